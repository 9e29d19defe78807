import type { Duplex } from 'node:stream';
import { closeAfterPeer } from './graceful-end.js';

/** How long a refused transfer's unused data connection waits for its client to close it. */
export const UNUSED_LINGER_MS = 1_000;
/**
 * Connections left open at once per client address (an IPv6 one whole): past it they are cut at
 * once. Several sessions from one address (curl in parallel) may each have one.
 */
export const UNUSED_LINGER_PER_ADDRESS = 8;

/** How a connection is left for its client to close, and for how long at most. */
export interface Leaving {
  readonly ms: number;
  /** Starts it (what the client sends is read and dropped meanwhile). */
  readonly leave: (stream: Duplex) => void;
}

/** A refused transfer's connection not used yet: neither ended nor reset (see closeAfterPeer). */
export const UNUSED: Leaving = { ms: UNUSED_LINGER_MS, leave: closeAfterPeer };

interface Held {
  readonly stream: Duplex;
  readonly owner: object;
  readonly address: string;
  readonly timer: NodeJS.Timeout;
}

/**
 * The data connections left for their clients to close, owned by the server: those of refused
 * transfers (UNUSED), and those of transfers over, ended (endGracefully). At most one per session
 * (a newer one cuts the older), a few per address, each for its Leaving's time. Unbounded, one
 * session looping EPSV, ClientHello, STOR onto a directory without closing took the server's every
 * descriptor within seconds; one doing quick transfers without closing held 5 s worth of them.
 */
export class LingeringData {
  readonly #bySession = new Map<object, Held>();
  readonly #perAddress = new Map<string, number>();

  /** Connections held now (tests, metrics). */
  get size(): number {
    return this.#bySession.size;
  }

  /**
   * Leaves `stream` (what holds the TCP handle) of the session `owner` for its client to close, or
   * cuts it when over a limit.
   */
  keep(owner: object, address: string, stream: Duplex, how: Leaving = UNUSED): void {
    const older = this.#bySession.get(owner);
    if (older?.stream === stream) return; // held already (a failed transfer's, closed twice)
    if (stream.destroyed) return; // a failed download's, cut already: the older stays its time
    this.#drop(older);
    if ((this.#perAddress.get(address) ?? 0) >= UNUSED_LINGER_PER_ADDRESS) {
      stream.destroy();
      return;
    }
    // A deadline, not an idle timeout: one reset by each read let a client trickling bytes keep it.
    const timer = setTimeout(() => this.#drop(held), how.ms).unref();
    const held: Held = { stream, owner, address, timer };
    this.#bySession.set(owner, held);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    stream.once('close', () => this.#forget(held));
    how.leave(stream);
  }

  /** The session ended: its connection goes with it. */
  endSession(owner: object): void {
    this.#drop(this.#bySession.get(owner));
  }

  /** The server closes: every connection held is cut. */
  close(): void {
    for (const held of [...this.#bySession.values()]) this.#drop(held);
  }

  #drop(held: Held | undefined): void {
    if (!held) return;
    this.#forget(held);
    held.stream.destroy();
  }

  #forget(held: Held): void {
    clearTimeout(held.timer);
    if (this.#bySession.get(held.owner) !== held) return;
    this.#bySession.delete(held.owner);
    const left = (this.#perAddress.get(held.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(held.address, left);
    else this.#perAddress.delete(held.address);
  }
}
