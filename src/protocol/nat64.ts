import { isIPv4 } from 'node:net'; // address checks only; no sockets here
import { ipv6Groups, normalizeAddress } from './address.js';
import { parseNetwork } from './network.js';

/**
 * IPv4 addresses embedded in IPv6 ones (RFC 6052), for IPv4 clients that reach an IPv6 server
 * through a stateless translator (SIIT, SIIT-DC: RFC 7915, 7755) or a NAT64 the site runs the
 * other way: each IPv4 client appears as a prefix followed by its IPv4 address. Grouped by their
 * IPv6 network, all of them would be one client (one /64); each is its IPv4 address instead.
 */

/** A translator prefix: its first `bits / 8` bytes. */
export interface Nat64Prefix {
  readonly bytes: readonly number[];
  readonly bits: number;
}

/** RFC 6052 2.2: the prefix lengths an IPv4 address can follow. */
const LENGTHS: ReadonlySet<number> = new Set([32, 40, 48, 56, 64, 96]);

/** The well-known prefix (RFC 6052 2.1), always recognized. */
export const WELL_KNOWN_NAT64 = '64:ff9b::/96';

/** The bytes of IPv6 groups. */
const bytesOf = (groups: readonly number[]): number[] => groups.flatMap((g) => [g >> 8, g & 0xff]);

/** `2001:db8:46::/96` as a prefix, or why it is none (a message naming what is allowed). */
export function parseNat64Prefix(text: string): Nat64Prefix | string {
  // The network parser's strict reading (no zone, a decimal length); a prefix needs its length.
  const n = text.includes('/') ? parseNetwork(text.trim()) : undefined;
  const groups = n?.family === 6 ? ipv6Groups(n.address) : undefined;
  if (!n || !groups) return `an IPv6 prefix with its length, like 64:ff9b::/96, got "${text}"`;
  if (!LENGTHS.has(n.bits))
    return `a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052), got "${text}"`;
  return { bytes: bytesOf(groups).slice(0, n.bits / 8), bits: n.bits };
}

const WELL_KNOWN = parseNat64Prefix(WELL_KNOWN_NAT64) as Nat64Prefix;

/** The prefixes to recognize: the well-known one and `texts` (checked already; any other is skipped). */
export function nat64Prefixes(texts: readonly string[] = []): Nat64Prefix[] {
  const parsed = texts.map(parseNat64Prefix).filter((p): p is Nat64Prefix => typeof p !== 'string');
  return [WELL_KNOWN, ...parsed];
}

/**
 * The IPv4 address `addr` carries when it is in one of `prefixes` (RFC 6052 2.2: the 32 bits after
 * the prefix, skipping bits 64 to 71, which must be zero), else undefined.
 */
export function embeddedIPv4(addr: string, prefixes: readonly Nat64Prefix[]): string | undefined {
  const n = normalizeAddress(addr);
  if (isIPv4(n)) return undefined;
  const groups = ipv6Groups(n);
  if (!groups) return undefined;
  const bytes = bytesOf(groups);
  for (const p of prefixes) {
    if (!p.bytes.every((b, i) => bytes[i] === b)) continue;
    if (p.bits <= 64 && bytes[8] !== 0) continue;
    const at = [0, 1, 2, 3, 4].map((i) => p.bits / 8 + i).filter((i) => i !== 8);
    return at
      .slice(0, 4)
      .map((i) => bytes[i] ?? 0)
      .join('.');
  }
  return undefined;
}
