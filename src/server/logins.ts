import type { Principal } from '../auth/types.js';

/** What the registry can ask of a logged-in session. */
export interface LoggedInSession {
  /** The account may no longer be used (removed, disabled, expired): end the session with 421. */
  revoke(): void;
  /** The account changed (permissions, limits): later commands use the new principal. */
  update(principal: Principal): void;
}

/**
 * The logged-in sessions of this process, by user: for per-user session limits and for ending or
 * updating the sessions of an account that changed.
 */
export class Logins {
  private readonly byUser = new Map<string, Set<LoggedInSession>>();

  /** Counts `s` as one of the user's sessions; false (and not counted) when maxSessions are in use. */
  enter(p: Principal, s: LoggedInSession): boolean {
    const set = this.byUser.get(p.username) ?? new Set();
    if (p.maxSessions && set.size >= p.maxSessions) return false;
    set.add(s);
    this.byUser.set(p.username, set);
    return true;
  }

  leave(username: string, s: LoggedInSession): void {
    const set = this.byUser.get(username);
    set?.delete(s);
    if (set?.size === 0) this.byUser.delete(username);
  }

  count(username: string): number {
    return this.byUser.get(username)?.size ?? 0;
  }

  /** An account changed: its sessions follow (undefined = may no longer be used). */
  accountChanged(username: string, principal: Principal | undefined): void {
    for (const s of [...(this.byUser.get(username) ?? [])]) {
      if (principal) s.update(principal);
      else s.revoke();
    }
  }
}
