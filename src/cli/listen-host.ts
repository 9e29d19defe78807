import * as net from 'node:net';
import { FerryError } from '../errors.js';

/**
 * A listen address as given (`--listen`, `listen:`): `[addr]`, the form the start banner prints an
 * IPv6 address in, is `addr`; another bracketed text (a port after it, a name inside) is refused
 * here rather than looked up as a host name (getaddrinfo ENOTFOUND).
 */
export function listenHost(text: string, what: string): string {
  if (!text.startsWith('[')) return text;
  const inner = /^\[([^\]]*)\]$/.exec(text)?.[1];
  if (inner !== undefined && net.isIPv6(inner)) return inner;
  throw new FerryError(
    'ERR_USAGE',
    `${what}: expected an address like 127.0.0.1, :: or [::1] (the ports are --explicit-port and --implicit-port), got "${text}".`,
  );
}
