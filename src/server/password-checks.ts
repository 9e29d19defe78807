import type { AuthOutcome, Authenticator, Credentials } from '../auth/types.js';
import type { DefenderPort } from '../defender/defender.js';
import { normalizeAddress } from '../protocol/address.js';
import { ABANDON_AFTER_MS } from './abandon-on-abort.js';
import { SERVER_SHUTDOWN } from './disconnect-reasons.js';
import { FairSlots, type Slot, type SlotLimits } from './fair-slots.js';

export interface PasswordCheckLimits {
  /** Checks running at once, over all addresses. */
  readonly overall: number;
  readonly perAddress: number;
}

/**
 * A check running this long is not a scrypt (50-100 ms) but waiting on a backend (a hung directory
 * server): it takes no CPU, so it gives its overall slot back and other addresses' checks start.
 */
const LONG_CHECK_MS = 2_000;

/**
 * Long checks (past LONG_CHECK_MS, overall and address slots given back) at once, per overall slot,
 * and per address slot for one address: bounds the backend calls an attacker can keep hanging.
 * Past either bound a long check keeps its slots, retrying each LONG_CHECK_MS.
 */
const LONG_CHECKS_PER_SLOT = 4;

/**
 * Password checks are deliberately slow (scrypt, in libuv's thread pool): the CPU they take is a
 * budget that one address must not own. At most `overall` run at once and `perAddress` per
 * address; the rest wait, and the addresses with waiting checks take turns (round robin), so a
 * login from a quiet address waits for at most one running check to end, however many an
 * attacker queues. What waits is bounded by the connections not logged in (one PASS at a time
 * each; maxUnauthenticatedPerAddress per address). A check whose signal aborts (its client left,
 * or 30 s passed) gives its slot back when it ends, or shortly after if it never does; one that
 * runs far longer than any scrypt (a hung backend) gives back both its slots: it takes no CPU, and
 * kept, its address's would lock every other login from that address (a NAT, an office) out until
 * it ended or timed out.
 */
export class PasswordCheckQueue {
  readonly #slots: FairSlots;
  /** Long checks: running, their slots given back; in all and per address. */
  #long = 0;
  readonly #longAt = new Map<string, number>();
  #overall: number;
  #perAddress: number;

  private readonly abandonAfterMs: number;
  private readonly longAfterMs: number;

  /**
   * `abandonAfterMs`: how long a check whose signal aborted keeps its slot if it does not end (it
   * ignores its signal); far longer than a scrypt, short enough that a hung one frees its slot.
   * `longAfterMs`: when a running check gives back its overall slot (LONG_CHECK_MS).
   */
  constructor(
    limits: PasswordCheckLimits,
    timing: { readonly abandonAfterMs?: number; readonly longAfterMs?: number } = {},
  ) {
    this.#overall = limits.overall;
    this.#perAddress = limits.perAddress;
    this.#slots = new FairSlots(slotLimits(limits));
    this.abandonAfterMs = timing.abandonAfterMs ?? ABANDON_AFTER_MS;
    this.longAfterMs = timing.longAfterMs ?? LONG_CHECK_MS;
  }

  /** New limits (a reload): waiting checks start at once if they now fit. */
  setLimits(limits: PasswordCheckLimits): void {
    this.#overall = limits.overall;
    this.#perAddress = limits.perAddress;
    this.#slots.setLimits(slotLimits(limits));
  }

  /**
   * Runs `check` in its turn. Settles with its answer, or undefined as soon as `signal` aborts
   * (waiting or running): an answer after that is ignored, so a check that never settles (a
   * directory server without a timeout) holds up only its own client.
   */
  run<T>(address: string, signal: AbortSignal, check: () => Promise<T>): Promise<T | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        withdraw();
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const withdraw = this.#slots.enter(address, (slot) => {
        signal.removeEventListener('abort', onAbort);
        const held = this.#held(address, slot);
        const long = setInterval(() => {
          if (held.goLong()) clearInterval(long);
        }, this.longAfterMs);
        // Its slot stays taken while the check winds down (scrypt in the thread pool cannot be
        // stopped: a client hanging up must not start the next one early), but not for ever.
        let abandon: NodeJS.Timeout | undefined;
        const aborted = (): void => {
          resolve(undefined);
          // Not long yet: it keeps its overall slot until it ends or is abandoned, not less.
          clearInterval(long);
          abandon = setTimeout(held.release, this.abandonAfterMs);
        };
        signal.addEventListener('abort', aborted, { once: true });
        // A check that throws at once is a rejection like any other, not a broken queue.
        new Promise<T>((ok) => ok(check())).then(resolve, reject).finally(() => {
          signal.removeEventListener('abort', aborted);
          clearInterval(long);
          clearTimeout(abandon);
          held.release();
        });
      });
    });
  }

  /** Checks waiting now (for tests and metrics). */
  get waiting(): number {
    return this.#slots.waiting;
  }

  /**
   * A running check's slot. `goLong` gives back its overall and address slots if few checks are
   * long, in all and from its address (true when it did); `release` gives back what it holds (once).
   */
  #held(address: string, slot: Slot): { goLong(): boolean; release(): void } {
    let long = false;
    let held = true;
    const longHere = (): number => this.#longAt.get(address) ?? 0;
    return {
      goLong: () => {
        if (!held || long || this.#long >= this.#overall * LONG_CHECKS_PER_SLOT) return false;
        if (longHere() >= this.#perAddress * LONG_CHECKS_PER_SLOT) return false;
        long = true;
        this.#long++;
        this.#longAt.set(address, longHere() + 1);
        slot.leaveOverall();
        slot.leaveKey();
        return true;
      },
      release: () => {
        if (!held) return;
        held = false;
        if (long) {
          this.#long--;
          const n = longHere() - 1;
          if (n > 0) this.#longAt.set(address, n);
          else this.#longAt.delete(address);
        }
        slot.release();
      },
    };
  }
}

function slotLimits(limits: PasswordCheckLimits): SlotLimits {
  return { overall: limits.overall, perKey: limits.perAddress };
}

/**
 * The server's view of the configured authenticator: every check waits its turn in the queue, a
 * banned address is refused without hashing, and each failure is scored (an unknown user as a wrong
 * password by default: a higher score would let a client tell names apart by when it is banned).
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
      let started = false;
      // An IPv6 network takes one turn, however many of its addresses an attacker rotates through.
      const outcome = await queue.run(defender.key(address), signal, () => {
        started = true;
        // Banned while it waited: no hashing for it.
        return defender.banned(address)
          ? Promise.resolve<AuthOutcome>({ ok: false, reason: 'address banned' })
          : inner.authenticate(c, signal);
      });
      // No answer: the client left, the server is shutting down, or the check timed out (waiting
      // its turn, or the authenticator never answered). None is a guess: not scored. A shutdown or
      // a timeout is not the client's doing either: a 421, no failed login, as when the accounts
      // are unreachable.
      if (!outcome) {
        const cause: unknown = signal.reason;
        if (cause === SERVER_SHUTDOWN)
          return {
            ok: false,
            unavailable: true,
            reason: 'password check dropped: the server is shutting down',
          };
        const timedOut = cause instanceof DOMException && cause.name === 'TimeoutError';
        if (!timedOut) return { ok: false, reason: 'password check dropped: the client left' };
        const why = started ? 'the authenticator did not answer in time' : 'timed out waiting its turn';
        return { ok: false, unavailable: true, reason: `password check: ${why}` };
      }
      // An anonymous login needs no secret: its refusal is no guess at one.
      // An offline refusal is not the client's fault, unless it was a wrong password (a guess).
      if (!outcome.ok && (!outcome.unavailable || outcome.guess) && !outcome.anonymous)
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
