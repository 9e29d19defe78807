import type * as tls from 'node:tls';

/**
 * ALPN on Ferry's TLS sockets (control and data): RFC 7301 registers "ftp". A ClientHello without
 * ALPN (what FTP clients send) is served; one offering "ftp" gets it; one offering only other
 * protocols (h2, http/1.1: a browser sent here, ALPACA-style) is refused with the
 * no_application_protocol alert, so no HTTP client is ever talking to the FTP server.
 */
export function selectFtp({ protocols }: { protocols: string[] }): string | undefined {
  return protocols.includes('ftp') ? 'ftp' : undefined;
}

/**
 * For a server-side TLSSocket's options: Node takes ALPNCallback there too (@types/node lists it
 * for tls.createServer only, hence a spread).
 */
export const FTP_ALPN: Pick<tls.TlsOptions, 'ALPNCallback'> = { ALPNCallback: selectFtp };
