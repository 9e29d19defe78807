/**
 * The primary's count of every user's sessions, per worker, so that `maxSessions` holds across all
 * workers (a worker asks before its PASS succeeds); those of users without a limit too, which a
 * limit set later (a reload) must count.
 */
export class UserSessions<W> {
  private readonly byUser = new Map<string, Map<W, number>>();

  /** Counts one more session of `user` on `worker`, or returns false when `max` are in use. */
  take(worker: W, user: string, max: number): boolean {
    const counts = this.byUser.get(user) ?? new Map<W, number>();
    let total = 0;
    for (const n of counts.values()) total += n;
    if (total >= max) return false;
    this.add(worker, user);
    return true;
  }

  /** Counts one more session of `user` (who has no limit) on `worker`. */
  add(worker: W, user: string): void {
    const counts = this.byUser.get(user) ?? new Map<W, number>();
    counts.set(worker, (counts.get(worker) ?? 0) + 1);
    this.byUser.set(user, counts);
  }

  give(worker: W, user: string): void {
    const counts = this.byUser.get(user);
    const n = (counts?.get(worker) ?? 0) - 1;
    if (n > 0) counts?.set(worker, n);
    else counts?.delete(worker);
    if (counts?.size === 0) this.byUser.delete(user);
  }

  /** The users with a session on `worker`. */
  on(worker: W): string[] {
    return [...this.byUser].filter(([, counts]) => counts.has(worker)).map(([user]) => user);
  }

  /** A worker exited: its sessions died with it. */
  forget(worker: W): void {
    for (const [user, counts] of this.byUser) {
      counts.delete(worker);
      if (counts.size === 0) this.byUser.delete(user);
    }
  }
}
