import * as net from 'node:net';

/**
 * The banner's URL of one listen address: a wildcard (`0.0.0.0`, `::`) as a loopback address it
 * answers on, with what it listens on (`::` alone takes IPv4 too, unless an IPv4 address is listed
 * beside it: listener.ts); an IPv6 address in brackets, its zone's `%` written `%25` (RFC 6874).
 */
export function listenUrl(scheme: string, host: string, port: number, hosts: readonly string[]): string {
  const alone = hosts.length === 1;
  if (host === '0.0.0.0') return `${scheme}://127.0.0.1:${port} (all IPv4 addresses)`;
  if (host === '::') {
    const v4 = hosts.some((h) => net.isIPv4(h));
    return `${scheme}://${alone ? 'localhost' : '[::1]'}:${port} (all ${v4 ? 'IPv6 ' : ''}addresses)`;
  }
  return `${scheme}://${host.includes(':') ? `[${host.replace('%', '%25')}]` : host}:${port}`;
}
