import * as net from 'node:net';
import { addressGroup, normalizeAddress } from '../protocol/address.js';
import { embeddedIPv4, nat64Prefixes } from '../protocol/nat64.js';
import { addNetwork, parseNetwork } from '../protocol/network.js';

/**
 * Whether a ban on `key` is found only by matching its network: one `ferry bans add` made of an
 * IPv4 network, or an IPv6 one of another length than the defender counts by. A ban the defender
 * raised itself (an IPv4 address, an IPv6 network of ipv6PrefixLength) is found by its key.
 */
export function matchedAsNetwork(key: string, ipv6PrefixLength: number): boolean {
  const p = parseNetwork(key);
  if (!p) return false;
  return p.family === 4 ? p.bits < 32 : p.bits !== Math.min(128, ipv6PrefixLength);
}

/** How the defender counts addresses (DefenderSettings' part): what a ban's key is made of. */
export interface AddressCounting {
  readonly ipv6PrefixLength: number;
  /** A site's NAT64/SIIT prefixes, besides 64:ff9b::/96. */
  readonly nat64Prefixes: readonly string[];
}

/**
 * What `ferry bans add` bans for `input`: an address as the defender counts it (IPv4 alone, IPv6
 * by its network of ipv6PrefixLength, a NAT64/SIIT one as the IPv4 it embeds), a network as its
 * first address and length (`192.0.2.9/24` is `192.0.2.0/24`; an IPv4-mapped one as IPv4), or
 * undefined when it is neither.
 */
export function banKeyOf(input: string, counting: AddressCounting): string | undefined {
  const p = parseNetwork(input.trim());
  if (!p) return undefined;
  const ip = normalizeAddress(p.address);
  const { ipv6PrefixLength } = counting;
  if (!input.includes('/'))
    return addressGroup(embeddedIPv4(ip, nat64Prefixes(counting.nat64Prefixes)) ?? ip, ipv6PrefixLength);
  // A mapped network (::ffff:192.0.2.0/120) is the IPv4 one it maps.
  const bits = p.bits - (net.isIPv4(ip) && p.family === 6 ? 96 : 0);
  if (bits < 0) return undefined;
  if (net.isIPv4(ip)) {
    const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const masked = bits === 0 ? 0 : n - (n % 2 ** (32 - bits));
    const text = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.');
    return bits === 32 ? text : `${text}/${bits}`;
  }
  return bits === 128 ? ip : addressGroup(ip, bits);
}

/**
 * The bans `ferry bans rm INPUT` finds among the listed `keys`: `own`, the one INPUT names (its key
 * in any spelling, or an address's ban as the defender counts it: IPv4 alone, IPv6 by its
 * ipv6PrefixLength network, a NAT64 one as the IPv4 it embeds), and `covering`, the other networks banned that hold INPUT's address
 * (or all of INPUT's network): lifting one of those lets in every address in it, so it is told,
 * not done, unless asked for (`--covering`), as fail2ban's unbanip lifts only the ban named.
 */
export function bansNamed(
  keys: readonly string[],
  input: string,
  counting: AddressCounting,
): { own: string | undefined; covering: string[] } {
  // As typed, canonical: an IPv6 address stays one (/128), a mapped or NAT64 one is IPv4.
  const exact = banKeyOf(input, { ...counting, ipv6PrefixLength: 128 });
  const asCounted = banKeyOf(input, counting);
  const own = keys.find((k) => k === input || k === exact || k === asCounted);
  const wanted = exact === undefined ? undefined : parseNetwork(exact);
  if (!wanted) return { own, covering: [] };
  const covering = keys.filter((k) => {
    const n = k === own ? undefined : parseNetwork(k);
    if (!n || n.family !== wanted.family || n.bits > wanted.bits) return false;
    const list = new net.BlockList();
    addNetwork(list, n);
    return list.check(wanted.address, n.family === 4 ? 'ipv4' : 'ipv6');
  });
  return { own, covering };
}

/** Whether a ban on `key` would refuse a loopback client (127.0.0.0/8, ::1). */
export function coversLoopback(key: string): boolean {
  const p = parseNetwork(key);
  if (!p) return false;
  const ban = new net.BlockList();
  addNetwork(ban, p);
  if (p.family === 6) return ban.check('::1', 'ipv6');
  // Two networks overlap when one holds the other's first address.
  const loopback = new net.BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  return ban.check('127.0.0.0', 'ipv4') || loopback.check(p.address, 'ipv4');
}

/** The networks banned by `ferry bans add` (matchedAsNetwork), checked one by one: there are few. */
export class BanNetworks {
  readonly #lists = new Map<string, { list: net.BlockList; family: 'ipv4' | 'ipv6' }>();

  add(key: string): void {
    const p = parseNetwork(key);
    if (!p) return;
    const list = new net.BlockList();
    addNetwork(list, p);
    this.#lists.set(key, { list, family: p.family === 4 ? 'ipv4' : 'ipv6' });
  }

  delete(key: string): void {
    this.#lists.delete(key);
  }

  /** The keys of the networks holding `address` or `counted` (the IPv4 client a NAT64 one embeds). */
  *holdingAny(address: string, counted: string): Generator<string> {
    yield* this.holding(address);
    if (counted !== address) yield* this.holding(counted);
  }

  /** The keys of the networks holding `address` (normalized). */
  *holding(address: string): Generator<string> {
    if (this.#lists.size === 0) return;
    const a = normalizeAddress(address);
    const family = net.isIPv4(a) ? 'ipv4' : 'ipv6';
    if (net.isIP(a) === 0) return;
    for (const [key, n] of this.#lists) if (n.family === family && n.list.check(a, family)) yield key;
  }
}
