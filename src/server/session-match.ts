import type { SessionMatch } from '../defender/control-socket.js';
import { normalizeAddress } from '../protocol/address.js';
import type { SessionReport } from './session-report.js';

/**
 * Whether `ferry kick` (or POST /sessions/ID/close) means this session: its id is listed, or it is
 * of the user named, or from the address named (as the server writes it: IPv4-mapped as IPv4, IPv6
 * in short lower case); `counted` gives the IPv4 client a NAT64/SIIT address embeds, named too.
 */
export function sessionMatches(
  s: Pick<SessionReport, 'id' | 'user' | 'address'>,
  m: SessionMatch,
  counted: (address: string) => string = (a) => a,
): boolean {
  if (m.ids.includes(s.id)) return true;
  if (m.user !== undefined && s.user === m.user) return true;
  if (m.address === undefined) return false;
  const named = normalizeAddress(m.address);
  return normalizeAddress(s.address) === named || counted(s.address) === named;
}
