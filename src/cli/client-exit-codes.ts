import { failureKind, type FailureKind } from '../client/errors.js';

/**
 * Exit codes of the client commands (`ferry ls|get|put|mirror|rm|mkdir|mv|cat|quote|chmod`).
 * They are part of the interface: scripts depend on them, so they never change meaning.
 */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** Anything not covered below (a protocol violation by the server, an unexpected error). */
  other: 1,
  /** Bad command line: unknown option, malformed URL, missing argument, conflicting options. */
  usage: 2,
  /** Cannot connect, the connection broke, or the server stopped answering (timeouts, 421). */
  connection: 3,
  /** TLS failed: handshake, untrusted certificate, pinned fingerprint mismatch, changed key. */
  tls: 4,
  /** The server refused the login. */
  auth: 5,
  /**
   * The server refused a file operation (no such file, permission denied, …: 4xx/5xx replies), or
   * the remote file does not fit it (put -c onto a larger one), or clear data (--prot c) where it
   * requires protected data.
   */
  remote: 6,
  /** A local file could not be read or written, or does not fit (get -c into a larger one). */
  local: 7,
  /** A transfer failed on the data connection (cannot connect, stalled, 425/426). */
  transfer: 8,
  /** Interrupted (Ctrl-C / SIGINT; the transfer was aborted with ABOR). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const byKind: Readonly<Record<FailureKind, ExitCode>> = {
  usage: EXIT.usage,
  connection: EXIT.connection,
  tls: EXIT.tls,
  auth: EXIT.auth,
  remote: EXIT.remote,
  local: EXIT.local,
  transfer: EXIT.transfer,
  aborted: EXIT.interrupted,
  other: EXIT.other,
};

export function exitCodeFor(err: unknown): ExitCode {
  return byKind[failureKind(err)];
}

/** The table for `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    other error (unexpected server behaviour)
  2    usage error (options, arguments, URL)
  3    connection error (cannot connect, connection lost, timeout)
  4    TLS error (handshake, certificate not trusted, fingerprint mismatch, key changed)
  5    authentication failed
  6    remote file error (the server refused the operation)
  7    local file error
  8    transfer failed (data connection)
  130  interrupted`;
