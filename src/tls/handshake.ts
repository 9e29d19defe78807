import type { Socket } from 'node:net';
import type * as tls from 'node:tls';
import { FerryError } from '../errors.js';

/**
 * A time limit that began before the handshake: a data connection's runs from its accept (reading
 * its ClientHello took part of it). The handshake gets what is left, and a timeout says how long it
 * really was and the limit, not what was left (a connection that waited 10 s said "after 0 ms").
 */
export interface HandshakeBudget {
  /** When the time began (Date.now()). */
  readonly since: number;
  readonly limitMs: number;
}

/**
 * Waits for a TLS handshake to finish, with a deadline (`timeout`: milliseconds from now, or a
 * budget that began earlier); rejects with ERR_TLS or ERR_TIMEOUT. Give `transport` when the TLS
 * socket runs over a stream of ours on that socket: a TLS engine over a JavaScript stream does not
 * notice the TCP connection closing during the handshake.
 */
export function handshake(
  sock: tls.TLSSocket,
  role: 'server' | 'client',
  timeout: number | HandshakeBudget,
  transport?: Socket,
): Promise<void> {
  const budget = typeof timeout === 'number' ? { since: Date.now(), limitMs: timeout } : timeout;
  const timeoutMs = Math.max(0, budget.since + budget.limitMs - Date.now());
  const timedOut = (): string =>
    typeof timeout === 'number'
      ? `TLS handshake timed out after ${timeout} ms.`
      : `TLS handshake timed out after ${Date.now() - budget.since} ms (limit ${budget.limitMs} ms from the connection's start).`;
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      sock.off('error', onError);
      sock.off('close', onClose);
      transport?.off('close', onTransportClose);
      sock.off(role === 'server' ? 'secure' : 'secureConnect', onSecure);
      if (err) reject(err);
      else resolve();
    };
    const onSecure = (): void => done();
    const onError = (err: Error): void =>
      done(new FerryError('ERR_TLS', `TLS handshake failed: ${err.message}`, { cause: err }));
    const onClose = (): void => done(new FerryError('ERR_TLS', 'Connection closed during TLS handshake.'));
    // The engine handles bytes as they arrive; let it finish with the last ones before judging.
    const onTransportClose = (): void => void setImmediate(onClose);
    const timer = setTimeout(() => done(new FerryError('ERR_TIMEOUT', timedOut())), timeoutMs);
    sock.once(role === 'server' ? 'secure' : 'secureConnect', onSecure);
    sock.once('error', onError);
    sock.once('close', onClose);
    transport?.once('close', onTransportClose);
  });
}
