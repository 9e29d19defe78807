import * as net from 'node:net';
import type { SessionMatch } from '../defender/control-socket.js';
import { normalizeAddress } from '../protocol/address.js';
import { parseNetwork } from '../protocol/network.js';
import type { SessionReport } from './session-report.js';

/** `ferry kick --address` read: a network (an address is one of its full length), maybe a port. */
export interface AddressPattern {
  readonly ip: string;
  readonly bits: number;
  readonly family: 'ipv4' | 'ipv6';
  /** `ferry who`'s `[2001:db8::5]:51234` or `192.0.2.7:51234`: that connection only. */
  readonly port?: number;
}

const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
const IPV4_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

/**
 * `--address` as typed: an address in any spelling (`192.0.2.7`, `::ffff:192.0.2.7`,
 * `2001:DB8::5`), a network (`2001:db8:1::/64`, `192.0.2.0/24`), or an address as `ferry who`
 * prints it (`[2001:db8::5]`, `[2001:db8::5]:51234`, `192.0.2.7:51234`); undefined for anything else.
 */
export function parseAddressPattern(text: string): AddressPattern | undefined {
  const t = text.trim();
  const m = BRACKETED.exec(t) ?? IPV4_PORT.exec(t);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const written = m ? (m[1] ?? '') : t;
  if (m && written.includes('/')) return undefined;
  // A zone names an interface, not a network: left out, as the sessions report addresses.
  const n = parseNetwork(written.replace(/%[^/]*/, ''));
  if (!n) return undefined;
  const ip = normalizeAddress(n.address);
  const family = net.isIPv4(ip) ? 'ipv4' : 'ipv6';
  // A mapped network (::ffff:192.0.2.0/120) is the IPv4 one it maps.
  const bits = family === 'ipv4' && n.family === 6 ? n.bits - 96 : n.bits;
  if (bits < 0) return undefined;
  return { ip, bits, family, ...(port === undefined ? {} : { port }) };
}

/** Whether `address` (as a session reports it) is in the pattern's network. */
function holds(p: AddressPattern, address: string): boolean {
  const a = normalizeAddress(address);
  const bare = a.includes('%') ? a.slice(0, a.indexOf('%')) : a;
  const family = net.isIPv4(bare) ? 'ipv4' : net.isIPv6(bare) ? 'ipv6' : undefined;
  if (family !== p.family) return false;
  const list = new net.BlockList();
  list.addSubnet(p.ip, p.bits, p.family);
  return list.check(bare, family);
}

/**
 * Whether `ferry kick` (or POST /sessions/ID/close) means this session: its id is listed, or it is
 * of the user named, or from the address or network named (parseAddressPattern; with a port, that
 * connection only); `counted` gives the IPv4 client a NAT64/SIIT address embeds, named too.
 */
export function sessionMatches(
  s: Pick<SessionReport, 'id' | 'user' | 'address'> & { readonly port?: number | null },
  m: SessionMatch,
  counted: (address: string) => string = (a) => a,
): boolean {
  if (m.ids.includes(s.id)) return true;
  if (m.user !== undefined && s.user === m.user) return true;
  const p = m.address === undefined ? undefined : parseAddressPattern(m.address);
  if (!p || (p.port !== undefined && s.port !== p.port)) return false;
  return holds(p, s.address) || holds(p, counted(s.address));
}
