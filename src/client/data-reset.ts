import type * as net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * How the client ends a data connection it gives up before its data is through (an abort, a local
 * error, a stall, an error reply): with a TCP reset, never with a FIN, which looks like a normal end.
 * After a FIN, a server still sending gets one more write through; the reset that write draws turns
 * the next into EPIPE, and ProFTPD's mod_tls ends the whole session on it ("panic:
 * SSL_ERROR_SYSCALL … Broken pipe", "unexpected OpenSSL error, disconnecting"). That happens
 * whenever the client had read all that was sent when it closed. And a server reading an upload
 * takes a FIN for its complete end. After a reset, the server's writes and reads fail with
 * ECONNRESET: the transfer fails, the session stays.
 *
 * `raw` is the TCP socket; `data` the stream the transfer reads and writes: the TLS socket on `raw`
 * under PROT P (from the moment it is made, before its handshake is through), else `raw` itself.
 */

/**
 * The data has been through: the server ended it ('end'), or we ended ours (end() was called, even
 * if its FIN is not out yet). Never a reset then: while a shutdown is pending, Node's reset fails
 * (uv_tcp_close_reset: EINVAL) yet marks the handle closing, so it is never closed: its descriptor
 * leaks, and at exit Node's handle cleanup waits for it forever, spinning a core.
 */
function through(raw: net.Socket, data: Duplex): boolean {
  return raw.readableEnded || raw.writableEnded || data.readableEnded || data.writableEnded;
}

/**
 * Node's flag behind resetAndDestroy(): the socket's next destroy() resets the connection. Set
 * directly only on a TCP socket under a TLS socket, whose destroy() then destroys it (see giveUp).
 */
type ResettableSocket = net.Socket & { resetAndClosing?: boolean };

/**
 * Ends a data connection for good, `data` destroyed with `err`: with a reset unless its data is
 * through or it is closed already. Under TLS the TCP socket is never reset or destroyed itself: the
 * TLS socket would go on reading through it (Node 20: SIGSEGV in TLSWrap::ClearOut when the TLS
 * socket is destroyed while its TCP socket closes, whether the handshake is through or not). The
 * TLS socket's destroy() destroys its TCP socket and waits for that close; the flag makes it a
 * reset.
 */
export function giveUp(raw: net.Socket, data: Duplex, err?: Error): void {
  if (!raw.destroyed && !through(raw, data)) {
    if (data === raw) raw.resetAndDestroy();
    else (raw as ResettableSocket).resetAndClosing = true;
  }
  data.destroy(err);
}

/**
 * pipeline() destroys all its streams when one fails, the data connection among them, with a FIN.
 * This listener resets it first when the data connection itself fails by an error (a TLS error is
 * emitted without destroying the socket): it runs before pipeline()'s own, which it adds later.
 * The local stream's failure aborts the transfer before pipeline() sees it (local-watch.ts).
 * Returns what removes the listener.
 */
export function resetWhenPipelineFails(raw: net.Socket, data: Duplex): () => void {
  const reset = (): void => giveUp(raw, data);
  data.on('error', reset);
  return () => void data.off('error', reset);
}
