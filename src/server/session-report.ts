import type { TransferDirection } from './metrics.js';

/**
 * One control connection as the admin listener's `GET /sessions` shows it (README, "Monitoring"):
 * the field names are an interface (`ferry who`, administrators' scripts). Nothing secret: no
 * password, no command argument but a path.
 */
export interface SessionReport {
  /** The id every log line of the session carries (`session`). */
  readonly id: string;
  /** The logged-in user; null before the login (a USER waiting for its PASS too). */
  readonly user: string | null;
  /** An anonymous FTP login. */
  readonly anonymous: boolean;
  /** The client's address (behind a trusted proxy: the one its PROXY header names) and port. */
  readonly address: string;
  readonly port: number | null;
  readonly mode: 'explicit' | 'implicit';
  /** The control connection is inside TLS now, its handshake done (false before AUTH, during the handshake, after CCC). */
  readonly tls: boolean;
  /** When the client connected (ISO 8601, UTC). */
  readonly since: string;
  /** Whole seconds since its last command finished (or since it connected); 0 while one runs. */
  readonly idleSeconds: number;
  /** The command or transfer running now, or null while the session waits for the client. */
  readonly doing: SessionActivity | null;
  /** The worker process serving it (`--workers N`: 1..N), null in a single-process server. */
  readonly worker: number | null;
}

export interface SessionActivity {
  /** The verb (RETR, STOR, LIST, MKD…). */
  readonly command: string;
  /** The path it works on, absolute as the client sees it; null when it has none. */
  readonly path: string | null;
  /** Bytes transferred (or read, for HASH) so far; null for a command that moves no data. */
  readonly bytes: number | null;
  /** Bytes per second over the last 10 s (or since it started); null as `bytes`. */
  readonly bytesPerSecond: number | null;
  /**
   * Whole seconds since its bytes last moved (since it started while none has): grows while a
   * client has stopped reading a download, which `bytes` alone cannot tell; null as `bytes`.
   */
  readonly sinceProgressSeconds: number | null;
  readonly direction: TransferDirection | null;
}

/** The body of `GET /sessions`. */
export interface SessionsReport {
  readonly sessions: readonly SessionReport[];
  /** Workers that did not answer in time (or were restarting): their sessions are not listed. */
  readonly missingWorkers: readonly number[];
}

/** The sessions an administrator's kick ended, as they were, and the workers that did not answer. */
export interface KickedSessions {
  readonly ended: readonly SessionReport[];
  readonly missingWorkers: readonly number[];
}
