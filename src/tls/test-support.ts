// Helpers for TLS tests; no test runner imported, so importing registers no tests.
import type * as tls from 'node:tls';

/** Writes `data` to `sock` in 64 KiB writes, honouring backpressure, then ends with close_notify. */
export function sendAll(sock: tls.TLSSocket, data: Buffer): void {
  let at = 0;
  const go = (): void => {
    while (at < data.length) {
      const piece = data.subarray(at, at + 64 * 1024);
      at += piece.length;
      if (!sock.write(piece)) return void sock.once('drain', go);
    }
    sock.end();
  };
  go();
}
