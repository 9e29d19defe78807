import type { AccountGone, Principal } from '../auth/types.js';
import type { SessionFamily } from '../tls/session-cache.js';

/** What the registry can ask of a logged-in session. */
export interface LoggedInSession {
  /** The client's address (normalized). */
  readonly address: string;
  /** The TLS sessions of its control connection, if it has started TLS. */
  family(): SessionFamily | undefined;
  /** The account was removed or disabled (`gone`, when known): end the session with 421. */
  revoke(gone?: AccountGone): void;
  /** The account changed (permissions, limits): later commands use the new principal. */
  update(principal: Principal): void;
}

/**
 * Counts the sessions of users with a session limit across processes (a cluster's primary counts
 * for all its workers); without one, this process's own count is the count.
 */
export interface UserSessionCounter {
  /** Counts one more session of `user` and resolves true, or false when `max` are in use. */
  take(user: string, max: number): Promise<boolean>;
  /**
   * Counts a session of `user`, who has no limit now: a limit set later (a reload) must count the
   * sessions already open. Absent: only the sessions of limited users are counted.
   */
  add?(user: string): void;
  /** One counted session of `user` ended. */
  give(user: string): void;
}

/** A control connection with TLS up, not yet logged in (see Logins.arrive). */
export interface Arrival {
  /** It logged in as `username`, or left (closed, REIN) without: undefined. Once. */
  settle(username?: string): void;
}

interface Arriving {
  readonly family: SessionFamily;
  readonly outcome: Promise<string | undefined>;
}

/**
 * The logged-in sessions of this process, by user: for per-user session limits and for ending or
 * updating the sessions of an account that changed; and by user and address, for the TLS sessions
 * their data connections may share (--session-reuse-scope user), with the connections from each
 * address still logging in.
 */
export class Logins {
  private readonly byUser = new Map<string, Set<LoggedInSession>>();
  private readonly byPeer = new Map<string, Set<LoggedInSession>>();
  private readonly arriving = new Map<string, Set<Arriving>>();
  /** Sessions counted by `counter`, to give back when they leave. */
  private readonly counted = new WeakSet<LoggedInSession>();
  private counter: UserSessionCounter | undefined;

  /** From now on, limited users are counted by `counter` (set before serving). */
  countWith(counter: UserSessionCounter): void {
    this.counter = counter;
  }

  /**
   * Counts `s` as one of the user's sessions; false (and not counted) when maxSessions are in use.
   * `gone()` says whether the session ended while the count was asked for.
   */
  async enter(p: Principal, s: LoggedInSession, gone: () => boolean): Promise<boolean> {
    const set = this.byUser.get(p.username) ?? new Set();
    if (p.maxSessions) {
      if (this.counter) {
        if (!(await this.counter.take(p.username, p.maxSessions))) return false;
        if (gone()) {
          this.counter.give(p.username);
          return false;
        }
        this.counted.add(s);
      } else if (set.size >= p.maxSessions) return false;
    } else if (this.counter?.add) {
      this.counter.add(p.username);
      this.counted.add(s);
    }
    set.add(s);
    this.byUser.set(p.username, set);
    const key = peerKey(p.username, s.address);
    this.byPeer.set(key, (this.byPeer.get(key) ?? new Set()).add(s));
    return true;
  }

  leave(username: string, s: LoggedInSession): void {
    drop(this.byUser, username, s);
    drop(this.byPeer, peerKey(username, s.address), s);
    if (this.counted.delete(s)) this.counter?.give(username);
  }

  /** The TLS session families of `username`'s logged-in sessions from `address` (none when logged out). */
  *families(username: string | undefined, address: string): Iterable<SessionFamily> {
    if (username === undefined) return;
    for (const s of this.byPeer.get(peerKey(username, address)) ?? []) {
      const f = s.family();
      if (f) yield f;
    }
  }

  /**
   * A control connection from `address` has TLS (`family`) and is logging in. A client sharing one
   * session cache between its connections (rclone) may offer its ticket on a sibling's data
   * connection before that login ends: `later` waits for it.
   */
  arrive(address: string, family: SessionFamily): Arrival {
    let resolve!: (username: string | undefined) => void;
    const a: Arriving = { family, outcome: new Promise((r) => (resolve = r)) };
    const set = this.arriving.get(address) ?? new Set();
    this.arriving.set(address, set.add(a));
    let settled = false;
    return {
      settle: (username) => {
        if (settled) return;
        settled = true;
        set.delete(a);
        if (set.size === 0 && this.arriving.get(address) === set) this.arriving.delete(address);
        resolve(username);
      },
    };
  }

  /**
   * Session `id` if a connection from `address` still logging in issued it: once it has logged in as
   * `username` (undefined when it logs in as another user or leaves). `waiting` is told when there
   * is such a connection to wait for.
   */
  async later(
    username: string | undefined,
    address: string,
    id: Buffer,
    waiting?: () => void,
  ): Promise<Buffer | undefined> {
    if (username === undefined) return undefined;
    for (const a of this.arriving.get(address) ?? []) {
      if (!a.family.find(id)) continue;
      waiting?.();
      return (await a.outcome) === username ? a.family.find(id) : undefined;
    }
    return undefined;
  }

  count(username: string): number {
    return this.byUser.get(username)?.size ?? 0;
  }

  /** An account changed: its sessions follow (undefined = removed or disabled). */
  accountChanged(username: string, principal: Principal | undefined, gone?: AccountGone): void {
    for (const s of [...(this.byUser.get(username) ?? [])]) {
      if (principal) s.update(principal);
      else s.revoke(gone);
    }
  }
}

/** An address holds no space: the first one ends it, whatever the user name holds. */
const peerKey = (username: string, address: string): string => `${address} ${username}`;

function drop<K>(map: Map<K, Set<LoggedInSession>>, key: K, s: LoggedInSession): void {
  const set = map.get(key);
  set?.delete(s);
  if (set?.size === 0) map.delete(key);
}
