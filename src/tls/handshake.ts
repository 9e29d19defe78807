import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { FerryError } from '../errors.js';

/**
 * Waits for a TLS handshake to finish, with a deadline; rejects with ERR_TLS or ERR_TIMEOUT. Give
 * `transport` when the TLS socket runs over a stream of ours on that socket: a TLS engine over a
 * JavaScript stream does not notice the TCP connection closing during the handshake.
 */
export function handshake(
  sock: tls.TLSSocket,
  role: 'server' | 'client',
  timeoutMs: number,
  transport?: Socket,
): Promise<void> {
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
    const timer = setTimeout(
      () => done(new FerryError('ERR_TIMEOUT', `TLS handshake timed out after ${timeoutMs} ms.`)),
      timeoutMs,
    );
    sock.once(role === 'server' ? 'secure' : 'secureConnect', onSecure);
    sock.once('error', onError);
    sock.once('close', onClose);
    transport?.once('close', onTransportClose);
  });
}
