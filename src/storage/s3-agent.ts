import http from 'node:http';
import net from 'node:net';
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
        // Copied: the buffer is reused by the next read. False (the reader is full) pauses reading.
        callback: (n, buf): boolean => socket.push(Buffer.from(buf.subarray(0, n))),
      },
    });
    return socket;
  }
}
