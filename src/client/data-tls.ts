import type * as net from 'node:net';
import * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { EofGuard } from '../tls/eof-guard.js';
import { handshake } from '../tls/handshake.js';
import type { ClientControlConnection } from './control.js';
import { giveUp } from './data-reset.js';
import { CertificateError, dataConnectionError } from './errors.js';
import { fingerprintSha256 } from './trust.js';

/** TLS on a data connection: the client handshake resuming the control session, and its certificate. */

/**
 * The TLS client socket on a data connection, resuming `session`; its handshake starts at once.
 * Certificates are not checked here (see checkDataCertificate). From now on the data connection is
 * ended through this socket, never through `raw` (data-reset.ts). `closeNotify`: its data ends
 * only with the server's TLS close_notify; a bare TCP FIN fails it (eof-guard.ts, one JavaScript
 * hop per read more).
 */
export function startDataTls(
  raw: net.Socket,
  tlsOptions: tls.ConnectionOptions,
  session: Buffer | undefined,
  closeNotify: boolean,
): tls.TLSSocket {
  const options = { ...tlsOptions, session, rejectUnauthorized: false };
  const sock = closeNotify
    ? EofGuard.clientTls(raw, options, () =>
        dataConnectionError(
          'The data connection ended without TLS close_notify: the data may be cut short (a bare TCP FIN).',
        ),
      )
    : tls.connect({ ...options, socket: raw });
  // Errors reach the caller through dataHandshake() now and through the transfer's pipeline later.
  sock.on('error', () => {});
  return sock;
}

/** Waits for the data connection's TLS handshake; on failure the data connection is given up. */
export async function dataHandshake(
  raw: net.Socket,
  sock: tls.TLSSocket,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  try {
    await handshake(sock, 'client', timeoutMs);
    return sock;
  } catch (err) {
    giveUp(raw, sock);
    throw dataHandshakeError(err, timeoutMs);
  }
}

/**
 * The network's failures (the peer's reset, a broken pipe), not the TLS layer's (an alert, a
 * certificate, a protocol error: their codes are OpenSSL's, ERR_SSL_…).
 */
const NETWORK_FAILURES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * handshake() errors in data connection terms: a timeout, a TLS failure (with a cause), or a close.
 * A reset or EOF during the handshake is the connection's failure (retried, exit 8): a server still
 * busy with the transfer a reply timeout gave up tears the retry's data connection down so; only
 * the TLS layer's own refusal is ERR_TLS (not retried: another try meets the same).
 */
function dataHandshakeError(err: unknown, timeoutMs: number): FerryError {
  if (err instanceof FerryError && err.code === 'ERR_TIMEOUT')
    return new FerryError('ERR_TLS', `TLS handshake on the data connection timed out after ${timeoutMs} ms.`);
  const cause = err instanceof FerryError && err.cause instanceof Error ? err.cause : undefined;
  const system = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (cause && system !== undefined && NETWORK_FAILURES.has(system))
    return dataConnectionError(`The data connection broke during its TLS handshake: ${cause.message}`, cause);
  if (err instanceof FerryError && err.cause instanceof Error)
    return new FerryError('ERR_TLS', `TLS handshake on the data connection failed: ${err.cause.message}`, {
      cause: err.cause,
    });
  return dataConnectionError(
    'The server closed the data connection during the TLS handshake (does it require TLS session reuse?).',
    err,
  );
}

/** The data connection must present the control connection's certificate (or resume its session). */
export function checkDataCertificate(control: ClientControlConnection, sock: tls.TLSSocket): void {
  const expected = control.serverCertificate;
  if (!expected) return;
  const cert = sock.getPeerCertificate();
  const der = cert && 'raw' in cert ? cert.raw : undefined;
  if (!der) {
    if (sock.isSessionReused()) return; // the session itself came from the verified control connection
    throw new CertificateError(
      'data-certificate-mismatch',
      control.host,
      '',
      'The data connection presented no certificate.',
    );
  }
  if (der.equals(expected)) return;
  throw new CertificateError(
    'data-certificate-mismatch',
    control.host,
    fingerprintSha256(der),
    'The data connection presented a certificate other than the control connection’s.',
  );
}
