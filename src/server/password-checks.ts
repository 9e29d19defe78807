import type { AuthOutcome, Authenticator, Credentials } from '../auth/types.js';
import type { DefenderPort } from '../defender/defender.js';
import { normalizeAddress } from '../protocol/address.js';

export interface PasswordCheckLimits {
  /** Checks running at once, over all addresses. */
  readonly overall: number;
  readonly perAddress: number;
}

interface Waiting {
  start(): void;
}

interface PerAddress {
  running: number;
  readonly waiting: Waiting[];
}

/**
 * Password checks are deliberately slow (scrypt, in libuv's thread pool): the CPU they take is a
 * budget that one address must not own. At most `overall` run at once and `perAddress` per
 * address; the rest wait, and the addresses with waiting checks take turns (round robin), so a
 * login from a quiet address waits for at most one running check to end, however many an
 * attacker queues. What waits is bounded by the connections not logged in (one PASS at a time
 * each; maxUnauthenticatedPerAddress per address).
 */
export class PasswordCheckQueue {
  private running = 0;
  private readonly addresses = new Map<string, PerAddress>();
  /** Addresses with waiting checks that may start one, in turn order. */
  private readonly turns: string[] = [];

  constructor(private limits: PasswordCheckLimits) {}

  /** New limits (a reload) apply to the checks that start from now on. */
  setLimits(limits: PasswordCheckLimits): void {
    this.limits = limits;
  }

  /** Runs `check` in its turn; undefined (without running it) when `signal` aborts first. */
  run<T>(address: string, signal: AbortSignal, check: () => Promise<T>): Promise<T | undefined> {
    const a = this.entry(address);
    if (signal.aborted) {
      this.forget(address, a);
      return Promise.resolve(undefined);
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        const i = a.waiting.indexOf(w);
        if (i >= 0) a.waiting.splice(i, 1);
        this.forget(address, a);
        resolve(undefined);
      };
      const w: Waiting = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          this.running++;
          a.running++;
          check()
            .then(resolve, reject)
            .finally(() => {
              this.running--;
              a.running--;
              // Back in turn, at the end of the line.
              if (a.waiting.length > 0 && !this.turns.includes(address)) this.turns.push(address);
              this.forget(address, a);
              this.dispatch();
            });
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      a.waiting.push(w);
      // An address at its own limit gets its turn when one of its checks ends, behind the others.
      if (a.running < this.limits.perAddress && !this.turns.includes(address)) this.turns.push(address);
      this.dispatch();
    });
  }

  /** Checks waiting now (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const a of this.addresses.values()) n += a.waiting.length;
    return n;
  }

  private dispatch(): void {
    // Each pass starts a check or drops an address from the turns: it ends.
    while (this.running < this.limits.overall && this.turns.length > 0) {
      const address = this.turns.shift();
      if (address === undefined) return;
      const a = this.addresses.get(address);
      if (!a || a.waiting.length === 0) continue;
      // Its own checks are running: it comes back in turn when one of them ends.
      if (a.running >= this.limits.perAddress) continue;
      a.waiting.shift()?.start();
      if (a.waiting.length > 0 && a.running < this.limits.perAddress) this.turns.push(address);
    }
  }

  private entry(address: string): PerAddress {
    let a = this.addresses.get(address);
    if (!a) this.addresses.set(address, (a = { running: 0, waiting: [] }));
    return a;
  }

  private forget(address: string, a: PerAddress): void {
    if (a.running === 0 && a.waiting.length === 0) this.addresses.delete(address);
  }
}

/**
 * The server's view of the configured authenticator: every check waits its turn in the queue, a
 * banned address is refused without hashing, and each failure is scored (an unknown user more).
 */
export function guardAuthenticator(
  inner: Authenticator,
  queue: PasswordCheckQueue,
  defender: DefenderPort,
): Authenticator {
  const byCertificate = inner.authenticateByCertificate?.bind(inner);
  return {
    async authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome> {
      const address = normalizeAddress(c.remoteAddress);
      if (defender.banned(address)) return { ok: false, reason: 'address banned' };
      const outcome = await queue.run(address, signal, () =>
        // Banned while it waited: no hashing for it.
        defender.banned(address)
          ? Promise.resolve<AuthOutcome>({ ok: false, reason: 'address banned' })
          : inner.authenticate(c, signal),
      );
      // Not run: the client left, or the check timed out in the queue (not the client's doing): not scored.
      if (!outcome) {
        const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
        return {
          ok: false,
          reason: `password check ${timedOut ? 'timed out waiting its turn' : 'dropped: the client left'}`,
        };
      }
      if (!outcome.ok && !outcome.unavailable)
        defender.record(address, outcome.unknownUser ? 'unknown-user' : 'failed-login');
      return outcome;
    },
    // No hashing: no turn to wait for. A refusal only means "ask for the password": not scored.
    ...(byCertificate && {
      authenticateByCertificate: async (c, signal) =>
        defender.banned(normalizeAddress(c.remoteAddress))
          ? { ok: false, reason: 'address banned' }
          : await byCertificate(c, signal),
    }),
  };
}
