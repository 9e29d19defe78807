/**
 * A TLS alert the server sent, read out of OpenSSL's error text (`…:SSL routines:ssl3_read_bytes:
 * tlsv1 alert protocol version:../deps/openssl/…:SSL alert number 70`): its name and number, which
 * is what a user can act on (curl says as much); the rest is OpenSSL's internals.
 */
export interface TlsAlert {
  /** The alert's name as OpenSSL words it, without its `tlsv1 alert ` prefix: `protocol version`. */
  readonly name: string;
  /** The alert's number (RFC 8446 6): 70 for protocol_version, 40 for handshake_failure. */
  readonly number: number;
}

/** protocol_version: the server supports none of the TLS versions offered. */
export const PROTOCOL_VERSION_ALERT = 70;

export function receivedAlert(message: string): TlsAlert | undefined {
  const number = /SSL alert number (\d+)/.exec(message)?.[1];
  if (number === undefined) return undefined;
  const name = /(?:^|:)(?:sslv3|tlsv1|tlsv13) alert ([^:]+):/.exec(message)?.[1]?.trim();
  return { name: name ?? 'TLS', number: Number(number) };
}

/** `protocol version alert (70)`. */
export function alertText(a: TlsAlert): string {
  return `${a.name} alert (${a.number})`;
}
