import type { Principal } from '../auth/types.js';

/** What the registry can ask of a logged-in session. */
export interface LoggedInSession {
  /** The account was removed or disabled: end the session with 421. */
  revoke(): void;
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
  /** One counted session of `user` ended. */
  give(user: string): void;
}

/**
 * The logged-in sessions of this process, by user: for per-user session limits and for ending or
 * updating the sessions of an account that changed.
 */
export class Logins {
  private readonly byUser = new Map<string, Set<LoggedInSession>>();
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
    }
    set.add(s);
    this.byUser.set(p.username, set);
    return true;
  }

  leave(username: string, s: LoggedInSession): void {
    const set = this.byUser.get(username);
    set?.delete(s);
    if (set?.size === 0) this.byUser.delete(username);
    if (this.counted.delete(s)) this.counter?.give(username);
  }

  count(username: string): number {
    return this.byUser.get(username)?.size ?? 0;
  }

  /** An account changed: its sessions follow (undefined = removed or disabled). */
  accountChanged(username: string, principal: Principal | undefined): void {
    for (const s of [...(this.byUser.get(username) ?? [])]) {
      if (principal) s.update(principal);
      else s.revoke();
    }
  }
}
