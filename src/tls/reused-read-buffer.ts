import type * as net from 'node:net';

/**
 * Reading a socket into one reused buffer instead of a fresh Buffer per read. Read as a stream,
 * each read (a 16 KiB TLS record, up to 64 KiB of TCP) becomes a new Buffer outside the JavaScript
 * heap: a 1 GiB transfer makes 65,536 of them, and once V8 has run a full garbage collection (any
 * server that has been up a while) that much short-lived outside memory sets off one full
 * collection after another. Node offers this as `onread`, but only to a socket it creates itself;
 * data connections are accepted or handed over, so the same switch is made here on the socket's
 * own fields, the ones `onread` sets, found by name. Where this Node lacks them, nothing is changed.
 */

/** One TLS record at most is handed over at a time. */
export const RECORD_BYTES = 16 * 1024;

/** `take(n, buf)`: the next n bytes are in buf (reused: copy them now); false pauses the socket. */
export type Take = (n: number, buf: Buffer) => boolean;

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

/**
 * Puts `sock` in `onread` mode: from now on its bytes go to `take`, not to its Readable ('end',
 * 'error' and 'close' stay as they were). After `take` returned false, `sock.resume()` reads on.
 */
export function readIntoReusedBuffer(sock: net.Socket, take: Take, size = RECORD_BYTES): boolean {
  const symbols = Object.getOwnPropertySymbols(sock);
  const named = (d: string): symbol | undefined => symbols.find((s) => s.description === d);
  const kBuffer = named('kBuffer');
  const kBufferCb = named('kBufferCb');
  const kBufferGen = named('kBufferGen');
  const fields = sock as unknown as Record<symbol, unknown> & { _handle?: Partial<UserBufferHandle> | null };
  const handle = fields._handle;
  if (!kBuffer || !kBufferCb || !kBufferGen || typeof handle?.useUserBuffer !== 'function') return false;
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null) return false; // not the layout we know
  const buf = Buffer.allocUnsafeSlow(size);
  fields[kBuffer] = buf;
  fields[kBufferCb] = take;
  fields[kBufferGen] = null;
  handle.useUserBuffer(buf);
  return true;
}
