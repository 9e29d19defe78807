import { DataConnectionError } from '../errors.js';

/** The system's errors of a connect, in the words a 425 gives them (ProFTPD: strerror's). */
const WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host is down',
  ENETDOWN: 'network is down',
  EADDRNOTAVAIL: "the server's address is not available",
  EACCES: 'not permitted',
  EPERM: 'not permitted',
  EINVAL: 'invalid address',
};

/** `ms` as a reply says it: whole seconds, or milliseconds below one. */
export function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** An active data connection's connect failed (`err` from net.Socket's 'error'). */
export function connectFailure(err: Error): DataConnectionError {
  const errno = (err as NodeJS.ErrnoException).code;
  const words = errno !== undefined ? (WORDS[errno] ?? errno) : 'connection failed';
  return new DataConnectionError(words, { ...(errno !== undefined && { errno }), cause: err });
}

/** An active data connection not made within the connect timeout. */
export function connectTimedOut(ms: number): DataConnectionError {
  return new DataConnectionError(`timed out after ${duration(ms)}`, { errno: 'ETIMEDOUT' });
}

/** Nobody connected to a passive port within the connect timeout. */
export function nobodyConnected(ms: number): DataConnectionError {
  return new DataConnectionError(`nobody connected to the passive port within ${duration(ms)}`, {
    errno: 'ETIMEDOUT',
  });
}
