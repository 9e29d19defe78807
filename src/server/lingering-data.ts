import type { Duplex } from 'node:stream';
import { closeAfterPeer } from './graceful-end.js';

/**
 * How a connection is left for its client to close, and for how long at most (undefined: for as
 * long as its session lasts, or until the session leaves another).
 */
export interface Leaving {
  readonly ms: number | undefined;
  /** Starts it (what the client sends is read and dropped meanwhile). */
  readonly leave: (stream: Duplex) => void;
}

/**
 * A refused transfer's connection not used yet: neither ended nor reset (see closeAfterPeer), held
 * until its client closes it, as vsftpd leaves it, however long the client takes to read its
 * reply: cut after 1 s, it was reset under some of 48 curl uploads at once on a busy machine
 * before curl had read their 552 (curl then read it as the reply to a PASV: exit 13). Its session
 * holds no other meanwhile: its next one, or its end, cuts it.
 */
export const UNUSED: Leaving = { ms: undefined, leave: closeAfterPeer };

interface Held {
  readonly stream: Duplex;
  readonly owner: object;
  readonly timer: NodeJS.Timeout | undefined;
}

/**
 * The data connections left for their clients to close, owned by the server: those of refused
 * transfers (UNUSED), and those of transfers over, ended (endGracefully). At most one per session
 * (a newer one cuts the older, the session's end cuts it), each for its Leaving's time. Unbounded, one session looping EPSV,
 * ClientHello, STOR onto a directory without closing took the server's every descriptor within
 * seconds; one doing quick transfers without closing held 5 s worth of them. No count per address:
 * the sessions of one are bounded already (maxSessionsPerAddress), and the descriptor budget counts
 * one of these per session. Eight per address once cut the others at once: 48 curl uploads from one
 * office refused together (a quota) had their connections reset before their 552, which curl then
 * took for the reply to a PASV (exit 13).
 */
export class LingeringData {
  readonly #bySession = new Map<object, Held>();

  /** Connections held now (tests, metrics). */
  get size(): number {
    return this.#bySession.size;
  }

  /** Leaves `stream` (what holds the TCP handle) of the session `owner` for its client to close. */
  keep(owner: object, stream: Duplex, how: Leaving = UNUSED): void {
    const older = this.#bySession.get(owner);
    if (older?.stream === stream) return; // held already (a failed transfer's, closed twice)
    if (stream.destroyed) return; // a failed download's, cut already: the older stays its time
    this.#drop(older);
    // A deadline, not an idle timeout: one reset by each read let a client trickling bytes keep it.
    const timer = how.ms === undefined ? undefined : setTimeout(() => this.#drop(held), how.ms).unref();
    const held: Held = { stream, owner, timer };
    this.#bySession.set(owner, held);
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
    if (this.#bySession.get(held.owner) === held) this.#bySession.delete(held.owner);
  }
}
