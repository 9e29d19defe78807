import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Bytes a socket of a plain-HTTP S3 endpoint reads at a time. Node reads 64 KiB per read, and each
 * read is a Buffer through the socket's Readable, the HTTP parser and the response's Readable:
 * 16,384 times per GiB of a GetObject body. Read into one reused buffer (Node's `onread`), a read
 * takes whatever the socket holds and is passed on as one copy: a Node HTTP client receiving 1 GiB
 * from a Node server took 0.76-1.15 CPU s instead of 1.48-1.86 (~2,000 reads instead of 16,400).
 * 256 KiB gained nothing (1.55-1.86 s), 512 KiB 1.02-1.11, 2-4 MiB no more than 1 MiB.
 */
export const READ_SIZE = 1024 * 1024;

/**
 * An http.Agent whose sockets read up to READ_SIZE bytes at a time (plain HTTP only). They share one
 * buffer: a read fills it and its callback copies out what came before the next read can begin (both
 * run in one step of this thread), so the agent holds 1 MiB however many sockets it has.
 */
export class LargeReadAgent extends http.Agent {
  readonly #buffer = Buffer.allocUnsafeSlow(READ_SIZE);

  override createConnection(options: http.ClientRequestArgs): Duplex {
    const buffer = this.#buffer;
    // The agent's options are those net.createConnection gets by default; only `onread` is added.
    const socket: net.Socket = net.createConnection({
      ...(options as net.TcpNetConnectOpts),
      onread: {
        buffer,
        // False (the reader is full) pauses reading.
        callback: (n, buf): boolean =>
          socket.push(takenAtOnce(socket) ? buf.subarray(0, n) : Buffer.from(buf.subarray(0, n))),
      },
    });
    return socket;
  }
}

/**
 * Whether a chunk pushed now goes straight to the socket's 'data' listener (the HTTP parser, which
 * copies a response's body out of it before returning) instead of into the socket's buffer: then
 * the read buffer needs no copy. Otherwise the chunk waits, and the next read would overwrite it.
 * Each copy is 1 MiB of short-lived memory outside the JavaScript heap, which drives V8 into a full
 * garbage collection every few dozen MiB of a download. These are the conditions under which
 * Readable.push emits 'data' at once (Node 20); `sync` is unset outside a `_read` call.
 */
function takenAtOnce(socket: net.Socket): boolean {
  const state = (socket as unknown as { _readableState?: { sync?: unknown } })._readableState;
  return (
    socket.readableFlowing === true &&
    socket.readableLength === 0 &&
    state?.sync === false &&
    socket.listenerCount('data') > 0
  );
}
