import * as net from 'node:net';
import { networkList, parseNetwork } from '../protocol/network.js';
import { PERMISSIONS, type Permission } from './permissions.js';

/**
 * Parsers for the account settings an administrator types (`ferry users add --quota-size 2G`) or
 * writes in the users file. Each returns the value or throws a RangeError whose message says what
 * is expected; callers prefix the flag or key.
 */

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `500M`, `2G`, `1.5GiB`, `4096`, `10KB`: bytes (K, M, G, T are powers of 1024). 0 = none. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  const unit = UNITS[m?.[2]?.toUpperCase() ?? ''];
  if (!m || unit === undefined) {
    throw new RangeError(`expected a size such as 500M, 2G or 1048576 (bytes), got "${text}"`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`size "${text}" is too large`);
  return bytes;
}

/** `10MB/s`, `512K`, `1M/s`: bytes per second. 0 = unlimited. */
export function parseRate(text: string): number {
  const m = /^(.*?)(?:\/s)?\s*$/i.exec(text);
  try {
    return parseSize(m?.[1] ?? text);
  } catch {
    throw new RangeError(
      `expected a rate such as 10MB/s, 512K/s or 1048576 (bytes per second), got "${text}"`,
    );
  }
}

/** A count: a whole number >= 0. */
export function parseCount(text: string): number {
  if (!/^\s*\d{1,15}\s*$/.test(text)) throw new RangeError(`expected a whole number, got "${text}"`);
  return Number(text);
}

/** `*`, or a comma list of permission names (`list,download`); `readonly` = list,download. */
export function parsePermissionList(text: string): readonly Permission[] | '*' {
  const t = text.trim();
  if (t === '*') return '*';
  if (t.toLowerCase() === 'readonly') return ['list', 'download'];
  if (t === '' || t.toLowerCase() === 'none') return [];
  const out = new Set<Permission>();
  for (const word of t.split(',').map((w) => w.trim().toLowerCase())) {
    if (word === '*') return '*';
    if (!(PERMISSIONS as readonly string[]).includes(word)) {
      throw new RangeError(`unknown permission "${word}" (known: ${PERMISSIONS.join(', ')}, or *)`);
    }
    out.add(word as Permission);
  }
  return [...out];
}

/**
 * A virtual path as rules and folders name it: absolute, `/`-separated, no `.` or `..`, no trailing
 * slash (except `/` itself). Returned normalized (repeated slashes folded).
 */
export function parseVirtualDir(text: string): string {
  if (!text.startsWith('/') || text.includes('\0') || text.includes('\\')) {
    throw new RangeError(`expected an absolute virtual path such as /pub, got "${text}"`);
  }
  const parts = text.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) {
    throw new RangeError(`a virtual path may not contain . or .., got "${text}"`);
  }
  // The names a client could reach (storage/virtual-path.ts refuses the same).
  if (/[\r\n]/.test(text) || parts.some((p) => Buffer.byteLength(p) > 255)) {
    throw new RangeError(`a virtual path may not contain line breaks or names over 255 bytes`);
  }
  return '/' + parts.join('/');
}

/** `VPATH=VALUE` (for --perm and --folder). */
export function parseAssignment(text: string): { path: string; value: string } {
  const i = text.indexOf('=');
  if (i <= 0) throw new RangeError(`expected VPATH=VALUE such as /pub=list,download, got "${text}"`);
  return { path: parseVirtualDir(text.slice(0, i)), value: text.slice(i + 1) };
}

/** `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128). Returned in canonical form. */
export function parseCidr(text: string): string {
  const n = parseNetwork(text.trim());
  if (!n) {
    throw new RangeError(
      `expected a network such as 192.168.1.0/24, 2001:db8::/32 or one address, got "${text}"`,
    );
  }
  return `${n.address.toLowerCase()}/${n.bits}`;
}

/** Matches addresses against networks from parseCidr (IPv4-mapped IPv6 addresses count as IPv4). */
export function addressMatcher(networks: readonly string[]): (address: string) => boolean {
  const list = networkList(networks.map(parseCidr));
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const a = mapped ?? address;
    const family = net.isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * `2027-01-31` (the account works through that day, UTC, and not from the next day on) or a full
 * ISO 8601 time (`2027-01-31T18:00:00Z`). Returns the instant the account stops working.
 */
export function parseExpiry(text: string): Date {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const day = new Date(`${t}T00:00:00Z`);
    if (!Number.isNaN(day.getTime()) && day.toISOString().startsWith(t)) {
      return new Date(day.getTime() + 86_400_000);
    }
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const at = new Date(t);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new RangeError(
    `expected a date such as 2027-01-31 or a time such as 2027-01-31T18:00:00Z, got "${text}"`,
  );
}

/** A certificate fingerprint: SHA-256 as 64 hex digits, with or without colons; returned as AA:BB:… */
export function parseFingerprint(text: string): string {
  const hex = text.trim().replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new RangeError(`expected a SHA-256 fingerprint (64 hex digits, colons allowed), got "${text}"`);
  }
  return hex.match(/../g)?.join(':') ?? hex;
}

/** Bytes for people: `2 GiB`, `500 MiB`, `1234 B`. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= n) return `${Number((bytes / n).toFixed(2))} ${unit}`;
  }
  return `${bytes} B`;
}
