import type * as net from 'node:net';
import { clientHelloSettled, MAX_CLIENT_HELLO } from './client-hello.js';

/**
 * Copies the first bytes `raw` receives (up to one ClientHello's worth) while another reader (the
 * EofGuard) consumes them; the returned function stops copying and gives what was seen.
 */
export function captureClientHello(raw: net.Socket): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (d: Buffer): void => {
    chunks.push(d);
    size += d.length;
    if (size >= MAX_CLIENT_HELLO + 5) raw.off('data', onData);
  };
  raw.on('data', onData);
  return () => {
    raw.off('data', onData);
    return Buffer.concat(chunks);
  };
}

/**
 * Reads `raw` until it holds a whole ClientHello (or bytes that cannot be one, or `timeoutMs`
 * passed), then puts the bytes back: a TLS engine put on the TCP handle afterwards sees nothing
 * through JavaScript, but Node feeds it what the socket has buffered. Rejects if `raw` closes.
 */
export function readClientHello(raw: net.Socket, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      raw.off('readable', onReadable);
      raw.off('close', onClose);
      const bytes = Buffer.concat(chunks);
      if (bytes.length > 0 && !raw.destroyed) raw.unshift(bytes);
      if (err) reject(err);
      else resolve(bytes);
    };
    // Paused-mode reads ('readable'), so nothing is emitted as 'data' and the bytes can go back.
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = raw.read() as Buffer | null) !== null) chunks.push(chunk);
      if (chunks.length > 0 && clientHelloSettled(Buffer.concat(chunks))) finish();
    };
    const onClose = (): void => finish(new Error('Connection closed before its ClientHello.'));
    const timer = setTimeout(() => finish(), timeoutMs);
    raw.on('readable', onReadable);
    raw.once('close', onClose);
  });
}
