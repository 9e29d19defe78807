import * as net from 'node:net';
import { FerryError } from '../errors.js';
import { addressGroup } from '../protocol/address.js';
import { embeddedIPv4, nat64Prefixes, type Nat64Prefix } from '../protocol/nat64.js';
import { addNetwork, parseNetwork } from '../protocol/network.js';
import { BanNetworks, matchedAsNetwork } from './ban-networks.js';

/**
 * What costs an address points (SFTPGo's defaults, but an unknown user costs what a wrong password
 * does). `command-flood`: a session held back by its command budget while pipelining, for a period.
 */
export type DefenderEvent =
  'failed-login' | 'unknown-user' | 'tls-failure' | 'limit-refused' | 'command-flood';

export interface DefenderSettings {
  /** Networks never scored nor banned (CIDR, or a single address). */
  readonly allow: readonly string[];
  readonly scores: Readonly<Record<DefenderEvent, number>>;
  /** Points within `windowMs` that ban the address. */
  readonly threshold: number;
  readonly windowMs: number;
  /** The first ban; each repeat doubles it, up to `maxBanMs`. */
  readonly banMs: number;
  readonly maxBanMs: number;
  /** Addresses scored at once (the least recently scored is forgotten first). */
  readonly maxTracked: number;
  /** IPv6 addresses are scored and banned by their network of this many bits (128: each alone). */
  readonly ipv6PrefixLength: number;
  /**
   * A site's NAT64/SIIT prefixes (RFC 6052: `2001:db8:46::/96`), besides the well-known
   * 64:ff9b::/96: an address in one is the IPv4 client it embeds, counted alone (protocol/nat64.ts).
   */
  readonly nat64Prefixes: readonly string[];
}

export const DEFAULT_DEFENDER: DefenderSettings = {
  allow: [],
  scores: { 'failed-login': 1, 'unknown-user': 1, 'tls-failure': 2, 'limit-refused': 3, 'command-flood': 5 },
  threshold: 15,
  windowMs: 5 * 60_000,
  banMs: 15 * 60_000,
  maxBanMs: 24 * 60 * 60_000,
  maxTracked: 100_000,
  ipv6PrefixLength: 64,
  nat64Prefixes: [],
};

/** One ban, as kept, listed and persisted. `bans` counts this one and the earlier ones remembered. */
export interface Ban {
  /** An IP address, or an IPv6 network (`2001:db8:1::/64`, see addressGroup). */
  readonly address: string;
  readonly since: number;
  readonly until: number;
  readonly bans: number;
  /** Why, for a ban `ferry bans add` made (`--reason`). */
  readonly reason?: string;
}

export type DefenderChange =
  | {
      readonly kind: 'ban';
      readonly ban: Ban;
      readonly score: number;
      /** What crossed the threshold; `manual`: `ferry bans add`. */
      readonly event: DefenderEvent | 'manual';
    }
  | {
      readonly kind: 'unban';
      readonly address: string;
      readonly why: 'expired' | 'removed';
      /** The ban as it ended (its until is when). */
      readonly ban?: Ban;
    };

/** How the server asks and tells the defender; a cluster worker forwards to its primary's. */
export interface DefenderPort {
  banned(address: string): boolean;
  record(address: string, event: DefenderEvent): void;
  /**
   * What the per-address limits count `address` as: itself, or its IPv6 network (addressGroup);
   * itself when it is on `allow`; the IPv4 address a NAT64/SIIT one embeds.
   */
  key(address: string): string;
  /** The IPv4 client a NAT64/SIIT address embeds, else the address itself (for the logs). */
  counted(address: string): string;
}

/**
 * Scores per source address (an IPv6 one by its network) over a sliding window; at the
 * threshold the address is banned, for banMs, doubling on each repeat up to maxBanMs (a repeat is
 * remembered until a ban's length after the last one ended). Pure bookkeeping with an injected
 * clock: the owner persists (`onChange`), logs and refuses. Memory is bounded: at most `threshold`
 * events per address (the ban clears them) and `maxTracked` addresses.
 */
export class Defender implements DefenderPort {
  private allowList: net.BlockList;
  /** Whether the allow list names any network: each check builds a native SocketAddress, per session several. */
  private allowsAny: boolean;
  private readonly events = new Map<string, { at: number; points: number }[]>();
  private readonly active = new Map<string, Ban>();
  /** Bans that ended, remembered so that a repeat is banned longer. */
  private readonly past = new Map<string, Ban>();
  /** The active bans found by their network, not their key (`ferry bans add 192.0.2.0/24`). */
  private readonly networks = new BanNetworks();
  /** The NAT64/SIIT prefixes whose addresses count as the IPv4 ones they embed. */
  private readonly nat64: readonly Nat64Prefix[];

  constructor(
    private readonly settings: DefenderSettings = DEFAULT_DEFENDER,
    private readonly onChange: (c: DefenderChange) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.allowList = networks(settings.allow);
    this.allowsAny = settings.allow.length > 0;
    this.nat64 = nat64Prefixes(settings.nat64Prefixes);
  }

  /**
   * Who `address` is: the IPv4 client a NAT64/SIIT address embeds (else every IPv4 client coming
   * through the translator would be one /64), or itself.
   */
  counted(address: string): string {
    return embeddedIPv4(address, this.nat64) ?? address;
  }

  /**
   * A new allow list (a reload): an address on it is let in at once, whatever its ban; one taken
   * off it is judged by its bans again (kept meanwhile). Throws, changing nothing, on a bad network.
   */
  setAllow(allow: readonly string[]): void {
    this.allowList = networks(allow);
    this.allowsAny = allow.length > 0;
  }

  /** On `allow`: the address, or the IPv4 client a NAT64/SIIT one embeds. */
  allowed(address: string): boolean {
    if (!this.allowsAny) return false;
    const counted = this.counted(address);
    return this.onAllowList(address) || (counted !== address && this.onAllowList(counted));
  }

  private onAllowList(address: string): boolean {
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    return net.isIP(address) !== 0 && this.allowList.check(address, family);
  }

  /**
   * Whether `address` is refused. Never one on `allow`, whatever ban it has: a ban from before the
   * address was allowed (bans.json, another node's) stays listed until it ends or is removed.
   */
  banned(address: string): boolean {
    const ban = this.active.get(this.network(address));
    if (ban !== undefined && this.inForce(ban)) return !this.allowed(address);
    return this.networkBan(address) !== undefined && !this.allowed(address);
  }

  /** A ban in force of a network holding `address` (checked one by one: only `ferry bans add` makes them). */
  private networkBan(address: string): Ban | undefined {
    for (const key of this.networks.holdingAny(address, this.counted(address))) {
      const ban = this.active.get(key);
      if (!ban)
        this.networks.delete(key); // trimmed away
      else if (this.inForce(ban)) return ban;
    }
    return undefined;
  }

  /**
   * A ban asked for (`ferry bans add`): `key` as banKeyOf made it, for `ms`, replacing one in force
   * there; counted as a repeat like any other.
   */
  add(key: string, ms: number, reason?: string): Ban {
    const now = this.now();
    const before = this.active.get(key) ?? this.past.get(key);
    const bans = (before && (this.active.has(key) || this.remembered(before)) ? before.bans : 0) + 1;
    const ban: Ban = { address: key, since: now, until: now + ms, bans, ...(reason ? { reason } : {}) };
    this.events.delete(key);
    this.past.delete(key);
    this.setActive(ban);
    this.onChange({ kind: 'ban', ban, score: 0, event: 'manual' });
    return ban;
  }

  private setActive(ban: Ban): void {
    this.active.set(ban.address, ban);
    if (matchedAsNetwork(ban.address, this.settings.ipv6PrefixLength)) this.networks.add(ban.address);
    trim(this.active, this.settings.maxTracked);
  }

  /**
   * Its network, but an address on `allow` alone (as before the networks): the other hosts of its
   * /64 cannot fill its limits.
   */
  key(address: string): string {
    return this.allowed(address) ? addressGroup(this.counted(address), 128) : this.network(address);
  }

  /** What `address` is scored and banned as: itself (a NAT64 one: its IPv4), or its IPv6 network. */
  private network(address: string): string {
    return addressGroup(this.counted(address), this.settings.ipv6PrefixLength);
  }

  /** Whether `ban` still runs; one that has run out ends now. */
  private inForce(ban: Ban): boolean {
    if (ban.until > this.now()) return true;
    this.end(ban, 'expired');
    return false;
  }

  record(from: string, event: DefenderEvent): void {
    const points = this.settings.scores[event];
    // Only an address is scored: never a key that no connection has (`""` would be banned for all).
    if (!(points > 0) || net.isIP(from) === 0 || this.allowed(from) || this.banned(from)) return;
    const address = this.network(from);
    const now = this.now();
    const since = now - this.settings.windowMs;
    const list = (this.events.get(address) ?? []).filter((e) => e.at > since);
    list.push({ at: now, points });
    this.events.delete(address); // re-insert: least recently scored first
    const score = list.reduce((sum, e) => sum + e.points, 0);
    if (score < this.settings.threshold) {
      this.events.set(address, list);
      if (this.events.size > this.settings.maxTracked) this.forgetOldest();
      return;
    }
    const ban = this.ban(address, now);
    this.onChange({ kind: 'ban', ban, score, event });
  }

  /** Lifts a ban now (`address`: as listed, or an address it covers); false when none is. */
  unban(address: string): boolean {
    const ban = this.active.get(address) ?? this.active.get(this.network(address));
    if (!ban || !this.inForce(ban)) return false;
    this.end(ban, 'removed');
    return true;
  }

  /**
   * A ban recorded elsewhere (another node, through the shared store): taken as it is, without
   * calling onChange (the caller tells whom it must). Returns what changed here, if anything.
   */
  apply(ban: Ban): DefenderChange | undefined {
    if (!isBanKey(ban.address)) return undefined;
    const now = this.now();
    const mine = this.active.get(ban.address);
    if (ban.until > now) {
      if (mine && mine.since >= ban.since && mine.until >= ban.until) return undefined;
      this.events.delete(ban.address);
      this.past.delete(ban.address);
      this.setActive(ban);
      return { kind: 'ban', ban, score: 0, event: 'failed-login' };
    }
    // Lifted or expired there: ends the same ban (or an older one) here.
    if (!mine || mine.since > ban.since) return undefined;
    this.active.delete(ban.address);
    this.networks.delete(ban.address);
    this.past.set(ban.address, ban);
    trim(this.past, this.settings.maxTracked);
    return {
      kind: 'unban',
      address: ban.address,
      why: ban.until < mine.until ? 'removed' : 'expired',
      ban,
    };
  }

  /** Bans in force, soonest to end first. */
  list(): Ban[] {
    for (const ban of [...this.active.values()]) this.inForce(ban);
    return [...this.active.values()].sort((a, b) => a.until - b.until);
  }

  /** What to persist: the bans in force and the ended ones still counting for repeats. */
  snapshot(): { active: Ban[]; past: Ban[] } {
    return { active: this.list(), past: [...this.past.values()].filter((b) => this.remembered(b)) };
  }

  /** Restores a snapshot (at start); expired bans count as past ones. */
  restore(s: { active: readonly Ban[]; past: readonly Ban[] }): void {
    const now = this.now();
    for (const b of s.past) if (this.remembered(b)) this.past.set(b.address, b);
    for (const b of s.active) {
      if (b.until > now) this.setActive(b);
      else if (this.remembered(b)) this.past.set(b.address, b);
    }
  }

  private ban(address: string, now: number): Ban {
    this.events.delete(address);
    const before = this.past.get(address);
    const bans = before && this.remembered(before) ? before.bans + 1 : 1;
    const ms = Math.min(this.settings.maxBanMs, this.settings.banMs * 2 ** (bans - 1));
    const ban: Ban = { address, since: now, until: now + ms, bans };
    this.past.delete(address);
    this.setActive(ban);
    return ban;
  }

  private end(ban: Ban, why: 'expired' | 'removed'): void {
    this.active.delete(ban.address);
    this.networks.delete(ban.address);
    // A lifted ban still counts for the next one: the repeat is what doubles it.
    const ended = { ...ban, until: Math.min(ban.until, this.now()) };
    this.past.set(ban.address, ended);
    trim(this.past, this.settings.maxTracked);
    this.onChange({ kind: 'unban', address: ban.address, why, ban: ended });
  }

  private remembered(b: Ban): boolean {
    return this.now() - b.until < Math.max(this.settings.banMs, b.until - b.since);
  }

  private forgetOldest(): void {
    trim(this.events, this.settings.maxTracked);
  }
}

/** Whether `key` can be a ban's: an IP address, or a network (IPv6 as addressGroup() writes it; `ferry bans add`). */
export function isBanKey(key: string): boolean {
  return parseNetwork(key) !== undefined;
}

/** Forgets the oldest entries of `map` (insertion order) beyond `max`. */
function trim(map: Map<string, unknown>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}

/** A list of the networks `cidrs`; throws a clear error on one that is not. */
function networks(cidrs: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) addAllowed(list, cidr);
  return list;
}

/** Adds a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address to `list`; throws a clear error. */
export function addAllowed(list: net.BlockList, cidr: string): void {
  const n = parseNetwork(cidr);
  if (!n)
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `"${cidr}" is not a network (10.0.0.0/8, fd00::/8, 192.0.2.7).`,
    );
  addNetwork(list, n);
}
