import { isIPv4, isIPv6, type BlockList } from 'node:net'; // address checks only; no sockets here
import { networkList } from './network.js';

/**
 * Data-connection addresses: PORT/PASV (RFC 959), EPRT/EPSV (RFC 2428). Parsers return undefined on
 * anything malformed; formatters throw RangeError on inputs the caller should have checked.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** EPRT/EPSV network protocol numbers (RFC 2428): 1 = IPv4, 2 = IPv6. */
export type NetProtocol = 1 | 2;

export type EprtArg =
  | { readonly kind: 'address'; readonly protocol: NetProtocol; readonly host: string; readonly port: number }
  /** Well-formed but for a protocol we do not speak: answer 522 (RFC 2428). */
  | { readonly kind: 'unsupported-protocol'; readonly protocol: number };

export type EpsvArg =
  | { readonly kind: 'any' }
  | { readonly kind: 'all' }
  | { readonly kind: 'protocol'; readonly protocol: NetProtocol }
  | { readonly kind: 'unsupported-protocol'; readonly protocol: number };

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function parsePortNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return isPort(n) ? n : undefined;
}

function assertPort(port: number): void {
  if (!isPort(port)) throw new RangeError(`Port must be an integer from 1 to 65535, got ${String(port)}`);
}

/** 16-bit groups of a valid IPv6 address (zone id ignored), or undefined. */
export function ipv6Groups(addr: string): number[] | undefined {
  const pct = addr.indexOf('%');
  const a = pct >= 0 ? addr.slice(0, pct) : addr;
  if (!isIPv6(a)) return undefined;
  let text = a;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    tail.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
    // Drop the dotted part; keep a '::' that ends right before it.
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const want = 8 - tail.length;
  const halves = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  let groups: number[];
  if (halves.length === 2) {
    const head = parse(halves[0] ?? '');
    const rest = parse(halves[1] ?? '');
    groups = [...head, ...new Array<number>(Math.max(0, want - head.length - rest.length)).fill(0), ...rest];
  } else {
    groups = parse(text);
  }
  groups.push(...tail);
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** RFC 5952 text of IPv6 groups: lowercase, longest run (2+) of zero groups as `::`. */
function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Canonical text of an address: IPv4-mapped IPv6 (`::ffff:127.0.0.1`, `::ffff:7f00:1`) becomes
 * dotted IPv4; other IPv6 becomes RFC 5952 form (zone id kept). Non-addresses (host names) are
 * returned lowercased and otherwise unchanged.
 */
export function normalizeAddress(addr: string): string {
  if (isIPv4(addr)) return addr;
  const groups = ipv6Groups(addr);
  if (!groups) return addr.toLowerCase();
  if (groups.slice(0, 6).every((g, i) => g === (i === 5 ? 0xffff : 0))) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const pct = addr.indexOf('%');
  return formatIPv6(groups) + (pct >= 0 ? addr.slice(pct) : '');
}

/**
 * What the per-address limits and the defender count an address as: an IPv4 (or IPv4-mapped)
 * address itself; an IPv6 address as its network of `ipv6PrefixLength` bits (`2001:db8:1::/64`),
 * since one host commonly gets a whole /64 and picks a new address in it at will; the address
 * itself at 128. Anything else (a key already) is returned as normalizeAddress() returns it.
 */
export function addressGroup(addr: string, ipv6PrefixLength: number): string {
  const n = normalizeAddress(addr);
  if (ipv6PrefixLength >= 128 || isIPv4(n)) return n;
  const groups = ipv6Groups(n);
  if (!groups) return n;
  const masked = groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, ipv6PrefixLength - 16 * i));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${formatIPv6(masked)}/${ipv6PrefixLength}`;
}

/** 4 or 6 for an IP address after normalization (mapped IPv4 counts as 4), else undefined. */
export function addressFamily(addr: string): 4 | 6 | undefined {
  const n = normalizeAddress(addr);
  if (isIPv4(n)) return 4;
  const pct = n.indexOf('%');
  return isIPv6(pct >= 0 ? n.slice(0, pct) : n) ? 6 : undefined;
}

/** The EPRT/EPSV protocol of an address: 1 for IPv4 (IPv4-mapped too, as addressFamily), else 2. */
export function netProtocolOf(addr: string): NetProtocol {
  return addressFamily(addr) === 4 ? 1 : 2;
}

/** Dotted IPv4 text for an IPv4 or IPv4-mapped address, else undefined (e.g. to decide PASV vs EPSV). */
export function toIPv4(addr: string): string | undefined {
  const n = normalizeAddress(addr);
  return isIPv4(n) ? n : undefined;
}

/** Same host after normalization, ignoring any IPv6 zone id (for the data-connection peer check). */
export function sameHost(a: string, b: string): boolean {
  const strip = (s: string): string => {
    const n = normalizeAddress(s);
    const pct = n.indexOf('%');
    return pct >= 0 ? n.slice(0, pct) : n;
  };
  return strip(a) === strip(b);
}

const sixNumbers =
  /(?<!\d)(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})(?!\d)/;

function hostPortFromSix(m: RegExpExecArray): HostPort | undefined {
  const n = m.slice(1, 7).map(Number);
  if (n.some((x) => x > 255)) return undefined;
  const port = (n[4] ?? 0) * 256 + (n[5] ?? 0);
  if (!isPort(port)) return undefined;
  return { host: n.slice(0, 4).join('.'), port };
}

/** PORT argument `h1,h2,h3,h4,p1,p2` (surrounding blanks allowed). */
export function parsePortArg(arg: string): HostPort | undefined {
  const m = new RegExp(`^\\s*${sixNumbers.source}\\s*$`).exec(arg);
  return m ? hostPortFromSix(m) : undefined;
}

function sixFields(host: string, port: number): string {
  const v4 = toIPv4(host);
  if (v4 === undefined) throw new RangeError(`PORT/PASV need an IPv4 address, got ${JSON.stringify(host)}`);
  assertPort(port);
  return `${v4.replaceAll('.', ',')},${port >> 8},${port & 0xff}`;
}

/** PORT argument for an IPv4 (or IPv4-mapped) host. */
export function formatPortArg(host: string, port: number): string {
  return sixFields(host, port);
}

/** Text of the 227 reply (without the code) for an IPv4 (or IPv4-mapped) host. */
export function formatPasvReply(host: string, port: number): string {
  return `Entering Passive Mode (${sixFields(host, port)}).`;
}

/**
 * The address in a 227 reply, with or without the code and parentheses
 * (`227 Entering Passive Mode (127,0,0,1,4,1).`, `227 =127,0,0,1,4,1`).
 */
export function parsePasvReply(text: string): HostPort | undefined {
  const body = /^\d{3}[ -]/.test(text) ? text.slice(4) : text;
  const m = sixNumbers.exec(body);
  return m ? hostPortFromSix(m) : undefined;
}

function isDelimiter(c: string): boolean {
  const code = c.charCodeAt(0);
  return c.length === 1 && code >= 33 && code <= 126;
}

/** EPRT argument `<d>proto<d>address<d>port<d>` with any delimiter from 33 to 126 (`|1|1.2.3.4|6275|`). */
export function parseEprtArg(arg: string): EprtArg | undefined {
  const d = arg.charAt(0);
  if (!isDelimiter(d)) return undefined;
  const parts = arg.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, protoText = '', host = '', portText = ''] = parts;
  if (!/^\d{1,5}$/.test(protoText)) return undefined;
  const protocol = Number(protoText);
  const port = parsePortNumber(portText);
  if (port === undefined) return undefined;
  if (protocol === 1) return isIPv4(host) ? { kind: 'address', protocol, host, port } : undefined;
  if (protocol === 2) {
    // A zone id (lftp over link-local: `fe80::1%eth0`) names an interface of the client's host:
    // dropped, as vsftpd does; the data connection is still checked against the control peer.
    const zone = /^([^%]*)%[\w.~-]+$/.exec(host);
    const bare = zone ? (zone[1] ?? '') : host;
    if (!isIPv6(bare)) return undefined;
    return { kind: 'address', protocol, host: normalizeAddress(bare), port };
  }
  return { kind: 'unsupported-protocol', protocol };
}

/** EPRT argument for a host: protocol 1 for IPv4 (and IPv4-mapped), 2 for IPv6. */
export function formatEprtArg(host: string, port: number): string {
  assertPort(port);
  const n = normalizeAddress(host);
  if (isIPv4(n)) return `|1|${n}|${port}|`;
  const pct = n.indexOf('%');
  const bare = pct >= 0 ? n.slice(0, pct) : n;
  if (!isIPv6(bare)) throw new RangeError(`EPRT needs an IP address, got ${JSON.stringify(host)}`);
  return `|2|${bare}|${port}|`;
}

/** EPSV argument: empty, `ALL` (any case) or a protocol number. */
export function parseEpsvArg(arg: string): EpsvArg | undefined {
  const a = arg.trim();
  if (a === '') return { kind: 'any' };
  if (a.toUpperCase() === 'ALL') return { kind: 'all' };
  if (!/^\d{1,5}$/.test(a)) return undefined;
  const protocol = Number(a);
  return protocol === 1 || protocol === 2
    ? { kind: 'protocol', protocol }
    : { kind: 'unsupported-protocol', protocol };
}

/** Text of the 229 reply (without the code). */
export function formatEpsvReply(port: number): string {
  assertPort(port);
  return `Entering Extended Passive Mode (|||${port}|)`;
}

/** The port in a 229 reply (`229 Entering Extended Passive Mode (|||6446|)`), any delimiter. */
export function parseEpsvReply(text: string): number | undefined {
  const m = /\(([!-~])\1\1(\d{1,5})\1\)/.exec(text) ?? /([!-~])\1\1(\d{1,5})\1/.exec(text);
  return m ? parsePortNumber(m[2] ?? '') : undefined;
}

export type AddressKind =
  'unspecified' | 'loopback' | 'private' | 'link-local' | 'carrier-grade NAT' | 'public';

/** Address ranges that are not public, by what they are. */
const RANGES: readonly (readonly [AddressKind, BlockList])[] = (
  [
    ['unspecified', ['0.0.0.0/8', '::/128']],
    ['loopback', ['127.0.0.0/8', '::1/128']],
    ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']],
    ['link-local', ['169.254.0.0/16', 'fe80::/10']],
    ['carrier-grade NAT', ['100.64.0.0/10']],
  ] as const
).map(([kind, cidrs]) => [kind, networkList(cidrs)] as const);

/** What an address is (an IPv4-mapped one as its IPv4; a zone ignored); a host name: `public`. */
export function addressKind(addr: string): AddressKind {
  const family = addressFamily(addr);
  if (family === undefined) return 'public';
  const n = normalizeAddress(addr);
  const bare = n.includes('%') ? n.slice(0, n.indexOf('%')) : n;
  const found = RANGES.find(([, list]) => list.check(bare, family === 4 ? 'ipv4' : 'ipv6'));
  return found?.[0] ?? 'public';
}
