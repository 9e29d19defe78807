import { BlockList, isIP } from 'node:net'; // address checks only; no sockets here

/**
 * An address or network as the configuration and the CLI write one: an account's `allowFrom`, the
 * defender's `allow`, `proxyProtocol.trusted`, a ban's key (`bans.json`, `ferry bans`).
 */
export interface Network {
  /** The address as written (IPv6 in any spelling; host bits may be set: `192.0.2.7/24`). */
  readonly address: string;
  readonly family: 4 | 6;
  /** The prefix length as written, or the whole address's (32, 128) when none is. */
  readonly bits: number;
}

/**
 * The one reading of `192.0.2.0/24`, `2001:db8::/32` or one address (its /32 or /128), or
 * undefined. Strict, so that a typo cannot widen a list: the length is 1 to 3 decimal digits up to
 * 32 or 128 (`10.0.0.0/` is not /0, nor are `/0x8`, `/+8` or `/ 8` lengths); an IPv6 zone
 * (`fe80::1%eth0`: one interface's) names no network; no blanks around (callers reading typed
 * text trim it first).
 */
export function parseNetwork(text: string): Network | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0 || address.includes('%')) return undefined;
  const family = version === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, family, bits: max };
  const length = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(length) || Number(length) > max) return undefined;
  return { address, family, bits: Number(length) };
}

/** Adds `n` to `list` (BlockList matches IPv4-mapped IPv6 addresses against IPv4 networks). */
export function addNetwork(list: BlockList, n: Network): void {
  list.addSubnet(n.address, n.bits, n.family === 4 ? 'ipv4' : 'ipv6');
}

/** A list of `cidrs` (parseNetwork's texts); throws RangeError naming the first that is none. */
export function networkList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const n = parseNetwork(cidr);
    if (!n) throw new RangeError(`"${cidr}" is not a network (10.0.0.0/8, fd00::/8, 192.0.2.7).`);
    addNetwork(list, n);
  }
  return list;
}
