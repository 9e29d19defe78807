import type * as net from 'node:net';
import { Code } from '../protocol/codes.js';
import { formatReply, reply } from '../protocol/reply.js';
import type { DefenderService } from './defender-service.js';
import type { ResolvedOptions } from './options.js';

export interface SessionLimits {
  readonly maxSessions: number;
  readonly maxSessionsPerAddress: number;
}

/**
 * Sessions counted in total and per key (DefenderPort.key: an address, or an IPv6 one's network),
 * against the limits. The caller computes a connection's key once and releases that key: a reload
 * that changes `allow` changes the key of an address. The single-process server and a cluster
 * primary (which counts for all its workers) admit connections through it.
 */
export class SessionCounts {
  private total = 0;
  private readonly perKey = new Map<string, number>();

  constructor(private limits: SessionLimits) {}

  /** New limits (a reload): sessions over them stay; new ones wait until the count is below. */
  setLimits(limits: SessionLimits): void {
    this.limits = limits;
  }

  /** Counts the session and returns true, or returns false when a limit is reached. */
  admit(key: string): boolean {
    const count = this.perKey.get(key) ?? 0;
    if (this.total >= this.limits.maxSessions || count >= this.limits.maxSessionsPerAddress) return false;
    this.total++;
    this.perKey.set(key, count + 1);
    return true;
  }

  /** The 421 for a session admit() refused: the per-address limit is named, so that one client sees it is its own. */
  refusal(key: string): string {
    const at = this.limits.maxSessionsPerAddress;
    return (this.perKey.get(key) ?? 0) >= at
      ? `Too many connections from your address (at most ${at}), try later.`
      : 'Too many connections, try later.';
  }

  release(key: string): void {
    const left = (this.perKey.get(key) ?? 0) - 1;
    if (left > 0) this.perKey.set(key, left);
    else this.perKey.delete(key);
    this.total = Math.max(0, this.total - 1);
  }

  get size(): number {
    return this.total;
  }
}

/** The unauthenticated-connection cap as SessionCounts limits (no overall cap: maxSessions is that). */
export function unauthenticatedLimits(o: ResolvedOptions): SessionLimits {
  return { maxSessions: Infinity, maxSessionsPerAddress: o.limits.maxUnauthenticatedPerAddress };
}

/**
 * How a session counts against maxUnauthenticatedPerAddress, kept by whoever admitted it (the
 * server, or a cluster primary for all its workers).
 */
export interface UnauthenticatedCount {
  /** Logged in: no longer counted (until a logout). */
  loggedIn(): void;
  /** Logged out (REIN): counted again; false, and not counted, when its address is at the limit. */
  loggedOut(): Promise<boolean>;
}

/** Refused at accept, or at a REIN (421, then close): the address has too many not logged in. */
export const TOO_MANY_UNAUTHENTICATED = 'Too many connections not logged in from your address, try later.';
/** The 421's text to a banned address (at accept, or a session whose flood got it banned). */
export const BANNED_TEXT = 'Service not available: this address is temporarily banned.';

/**
 * The defender's word at accept, before any byte is read: a banned address is refused, and so is
 * one with too many connections not logged in yet (scored). Counts the connection as
 * unauthenticated (by `key`, the address's defender.key()) when admitted; returns the refusal's
 * text otherwise.
 */
export function admission(
  defender: DefenderService,
  unauthenticated: SessionCounts,
  address: string,
  key: string,
): string | undefined {
  if (defender.banned(address)) {
    defender.refused(address, 'address banned');
    return BANNED_TEXT;
  }
  if (!unauthenticated.admit(key)) {
    defender.refused(address, 'too many connections not logged in');
    defender.record(address, 'limit-refused');
    return TOO_MANY_UNAUTHENTICATED;
  }
  return undefined;
}

/**
 * A connection admitted (and so counted as not logged in) until it logs in; a logout (REIN) counts
 * it again, unless its address already has as many as allowed: then that is refused and scored as
 * a new connection over the limit would be. Kept by the server that admitted it, or by a cluster
 * primary for the connections its workers serve.
 */
export class UnauthenticatedConnection implements UnauthenticatedCount {
  private counted = true;

  constructor(
    private readonly defender: DefenderService,
    private readonly unauthenticated: SessionCounts,
    private readonly address: string,
    /** What it is counted as (defender.key() at accept). */
    private readonly key: string,
  ) {}

  loggedIn(): void {
    this.release();
  }

  async loggedOut(): Promise<boolean> {
    if (this.counted) return true;
    this.counted = this.unauthenticated.admit(this.key);
    if (!this.counted) {
      this.defender.refused(this.address, 'too many connections not logged in (at REIN)');
      this.defender.record(this.address, 'limit-refused');
    }
    return this.counted;
  }

  /** Logged in or closed: no longer counted. */
  release(): void {
    if (this.counted) this.unauthenticated.release(this.key);
    this.counted = false;
  }
}

/** How long a refused client has to close after its 421 before its socket is destroyed anyway. */
const REFUSAL_LINGER_MS = 2_000;

/**
 * Turns a connection away before any session starts: on the explicit port a 421, then the socket is
 * gone as soon as the client closes, or after REFUSAL_LINGER_MS if it does not.
 */
export function refuseConnection(
  socket: net.Socket,
  implicit: boolean,
  text = 'Too many connections, try later.',
): void {
  // On implicit FTPS nothing may precede TLS, so there is no 421 to send.
  if (implicit) {
    socket.destroy();
    return;
  }
  // Read and drop what the client sends: a socket that is never read (a cluster primary's are
  // paused) never sees the client's FIN, and would hold its descriptor for good.
  socket.resume();
  socket.end(formatReply(reply(Code.ServiceNotAvailable, text)));
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
