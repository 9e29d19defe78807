import type * as net from 'node:net';
import { BanFile } from '../defender/ban-file.js';
import {
  DEFENDER_DISABLED,
  openControlSocket,
  type ControlAnswer,
  type ControlRequest,
  type KickAnswer,
  type SessionMatch,
} from '../defender/control-socket.js';
import {
  Defender,
  type Ban,
  type DefenderChange,
  type DefenderEvent,
  type DefenderPort,
} from '../defender/defender.js';
import { BanNetworks, matchedAsNetwork } from '../defender/ban-networks.js';
import { manualBan } from '../defender/manual-ban.js';
import type { SharedBans } from '../defender/shared-bans.js';
import type { Logger } from '../logger.js';
import type { ResolvedOptions } from './options.js';
import { WarningLimiter } from './warning-limiter.js';

/**
 * How a log line names a client: `remote`, and beside it `ipv4`, the IPv4 client a NAT64/SIIT
 * address embeds (the address it is counted, scored and banned as).
 */
export function remoteFields(
  d: Pick<DefenderPort, 'counted'>,
  address: string,
): { remote: string; ipv4?: string } {
  const ipv4 = d.counted(address);
  return ipv4 === address ? { remote: address } : { remote: address, ipv4 };
}

/** Ban and unban lines: at most this many a minute over all addresses; the rest are counted. */
const BAN_LINES_PER_MINUTE = 60;

/**
 * The defender as a server runs it: the scores and bans (Defender), their file (kept across
 * restarts), the control socket `ferry bans` uses, and the log lines, rate-limited so that an
 * attack cannot fill the disk. A single-process server and a cluster primary each own one; a
 * cluster worker forwards its events to the primary (forwardTo).
 */
export class DefenderService implements DefenderPort {
  private readonly defender: Defender | undefined;
  /** What decides key(): the defender, or when it is off one told nothing (its allow list still counts). */
  private readonly grouping: Defender;
  private readonly file: BanFile | undefined;
  private readonly banLines: WarningLimiter;
  private control: net.Server | undefined;
  /** Only a started service writes the bans file (a cluster worker's never does). */
  private started = false;
  private forward: ((address: string, event: DefenderEvent) => void) | undefined;
  private readonly remoteBans = new Map<string, number>();
  /** The primary's bans found by their network (`ferry bans add 192.0.2.0/24`). */
  private readonly remoteNetworks = new BanNetworks();
  /** What an address is counted as by the per-address limits (and logged as): see Defender.key. */
  readonly key: (address: string) => string;
  private readonly shared: SharedBans | undefined;
  private unfollow: (() => void) | undefined;
  /** The bans file's latest write, awaited at close. None until a ban changed. */
  private saving: Promise<void> | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
    private readonly refusals: WarningLimiter,
    now: () => number = Date.now,
  ) {
    const d = options.defender;
    this.banLines = new WarningLimiter(logger, {
      perWindow: BAN_LINES_PER_MINUTE,
      windowMs: 60_000,
      maxEntries: 4,
    });
    this.defender = d.enabled ? new Defender(d, (c) => this.changed(c), now) : undefined;
    // With scores and bans off, an address on `allow` must still count alone against the limits.
    this.grouping = this.defender ?? new Defender(d, undefined, now);
    this.key = (address) => this.grouping.key(address);
    if (!this.defender) return;
    this.shared = options.sharedBans;
    // Shared bans live in the database; the bans file is for a server on its own.
    if (d.stateFile && !this.shared) this.file = new BanFile(d.stateFile);
  }

  /**
   * Loads the saved bans and opens the control socket (a server that listens; not a worker). The
   * socket opens with the defender off too: `ferry kick` needs it (`ferry bans` is told it is off).
   */
  async start(): Promise<void> {
    await this.startDefender();
    const socket = this.options.defender.controlSocket;
    if (!socket) return;
    try {
      this.control = await openControlSocket(socket, (r) => this.answer(r));
    } catch (err) {
      // Serving matters more than `ferry bans`: say why it will not reach this server, and go on.
      this.logger.error(
        { socket, err: (err as Error).message },
        'no control socket: ferry bans and ferry kick cannot reach this server',
      );
    }
  }

  private async startDefender(): Promise<void> {
    if (!this.defender) return;
    this.started = true;
    if (this.file) {
      try {
        this.defender.restore(await this.file.load());
      } catch (err) {
        this.logger.error({ file: this.file.path, err: (err as Error).message }, 'cannot read the bans file');
      }
    }
    const shared = this.shared;
    if (shared) {
      const defender = this.defender;
      this.unfollow = shared.onChange((ban) => this.applied(defender.apply(ban)));
      try {
        const since = Date.now() - 2 * this.options.defender.maxBanMs;
        for (const ban of await shared.load(since)) this.applied(defender.apply(ban));
      } catch (err) {
        // Followed from the database once it answers (its recovery reloads them all).
        this.logger.error({ err: (err as Error).message }, 'cannot load the shared bans now');
      }
    }
  }

  /** A cluster worker: events go to the primary, which decides; bans it announces are mirrored here. */
  forwardTo(send: (address: string, event: DefenderEvent) => void): void {
    this.forward = send;
  }

  /** A ban the primary announced (cluster worker): password checks from there stop at once. */
  mirrorBan(address: string, until: number): void {
    if (until > Date.now()) {
      this.remoteBans.set(address, until);
      if (matchedAsNetwork(address, this.options.defender.ipv6PrefixLength)) this.remoteNetworks.add(address);
    } else {
      this.remoteBans.delete(address);
      this.remoteNetworks.delete(address);
    }
  }

  banned(address: string): boolean {
    // A worker checks the allow list itself: the primary announces every ban, allowed or not.
    if (this.forward) return !this.defender?.allowed(address) && this.mirroredBan(address);
    return this.defender?.banned(address) ?? false;
  }

  private mirroredBan(address: string): boolean {
    const now = Date.now();
    if ((this.remoteBans.get(this.key(address)) ?? 0) > now) return true;
    for (const key of this.remoteNetworks.holdingAny(address, this.grouping.counted(address)))
      if ((this.remoteBans.get(key) ?? 0) > now) return true;
    return false;
  }

  /** A new allow list (a reload): applies to the bans in force too. */
  setAllow(allow: readonly string[]): void {
    this.grouping.setAllow(allow);
  }

  record(address: string, event: DefenderEvent): void {
    if (this.forward) this.forward(address, event);
    else this.defender?.record(address, event);
  }

  /** The bans in force (a new cluster worker is told them). */
  activeBans(): Ban[] {
    return this.defender?.list() ?? [];
  }

  counted(address: string): string {
    return this.grouping.counted(address);
  }

  /** Logs a refused connection (rate-limited per address; an IPv6 one per network, rotated or not). */
  refused(address: string, why: string): void {
    this.refusals.warn(
      this.logger,
      this.key(address),
      remoteFields(this, address),
      `connection refused: ${why}`,
    );
  }

  /** Called with each ban (a cluster primary tells its workers). */
  onBan: ((address: string, until: number) => void) | undefined;

  /** Ends the sessions a control socket's `kick` names (the server's, or every worker's). */
  onKick: ((match: SessionMatch) => Promise<KickAnswer>) | undefined;

  async close(): Promise<void> {
    this.unfollow?.();
    this.unfollow = undefined;
    const control = this.control;
    this.control = undefined;
    if (control) await new Promise<void>((resolve) => control.close(() => resolve()));
    this.banLines.dispose();
    // Every change was written as it happened: only the last write is waited for. A service that saw
    // none writes nothing (a second server that failed to start never rewrites the first one's file).
    await this.saving;
  }

  /** A change recorded by another node (or this one, coming back): logged and told, not saved again. */
  private applied(c: DefenderChange | undefined): void {
    if (!c) return;
    if (c.kind === 'ban') {
      const { address, until } = c.ban;
      this.banLines.warn(
        this.logger,
        '*',
        { remote: address, until: new Date(until).toISOString() },
        'address banned (shared)',
      );
      this.onBan?.(address, until);
    } else {
      this.banLines.warn(this.logger, '*', { remote: c.address, why: c.why }, 'address unbanned (shared)');
      this.onBan?.(c.address, 0);
    }
  }

  private changed(c: DefenderChange): void {
    if (this.started && this.shared) {
      // Raised or lifted here: every node must know (an expiry each node sees by itself).
      if (c.kind === 'ban') this.shared.save(c.ban);
      else if (c.why === 'removed' && c.ban) this.shared.save(c.ban);
    }
    if (c.kind === 'ban') {
      const { address, until, bans, reason } = c.ban;
      this.banLines.warn(
        this.logger,
        '*',
        {
          remote: address,
          until: new Date(until).toISOString(),
          bans,
          score: c.score,
          last: c.event,
          ...(reason ? { reason } : {}),
        },
        'address banned',
      );
      this.onBan?.(address, until);
    } else {
      this.banLines.warn(this.logger, '*', { remote: c.address, why: c.why }, 'address unbanned');
      this.onBan?.(c.address, 0);
    }
    if (this.started) this.saving = this.persist();
  }

  private async persist(): Promise<void> {
    const { file, defender } = this;
    if (!file || !defender) return;
    try {
      await file.save(() => defender.snapshot());
    } catch (err) {
      this.logger.error({ file: file.path, err: (err as Error).message }, 'cannot write the bans file');
    }
  }

  private async answer(r: ControlRequest): Promise<ControlAnswer> {
    if (r.op === 'kick')
      return this.onKick ? this.onKick(r.match) : { ok: false, error: 'kick is not served here' };
    const defender = this.defender;
    if (!defender) return { ok: false, error: DEFENDER_DISABLED };
    const { ipv6PrefixLength, maxBanMs } = this.options.defender;
    if (r.op === 'list') return { ok: true, bans: defender.list(), ipv6PrefixLength };
    if (r.op === 'rm') return { ok: true, removed: defender.unban(r.address) };
    const ban = manualBan(r, this.options.defender);
    if ('error' in ban) return { ok: false, error: ban.error };
    return { ok: true, ban: defender.add(ban.key, r.ms ?? maxBanMs, ban.reason) };
  }
}
