/**
 * A range of a file's bytes, remote (REST + RETR, stopped with ABOR once enough arrived) or local:
 * what `mirror -c` compares before it continues a file on the times alone (mirror-continue.ts).
 */
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { FerryError } from '../errors.js';
import type { FerryClient } from './client.js';
import { fsPath } from './local-file.js';

/**
 * Up to `length` bytes of the remote file from byte `start` (fewer where it ends before). A file
 * going on past them is not read to its end: the transfer is aborted (ABOR) once a byte past the
 * range arrived, and the connection stays usable.
 */
export async function readRemoteRange(
  client: FerryClient,
  remote: string,
  start: number,
  length: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const enough = new AbortController();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (got < length) chunks.push(chunk);
      got += chunk.length;
      // Bytes past the range: the file goes on, and is not read to its end. A file ending with
      // the range (an upload's destination) ends its transfer itself, without ABOR.
      if (got > length) enough.abort();
      done();
    },
  });
  try {
    await client.get(remote, sink, {
      offset: start,
      signal: signal ? AbortSignal.any([signal, enough.signal]) : enough.signal,
    });
  } catch (err) {
    // Our own abort, once the range arrived, is the expected end; the caller's is theirs.
    const ours = enough.signal.aborted && !(signal?.aborted ?? false);
    if (!ours || !(err instanceof FerryError) || err.code !== 'ERR_ABORTED') throw err;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/** Up to `length` bytes of the local file from byte `start` (fewer where it ends before). */
export async function readLocalRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(fsPath(file), 'r');
  try {
    const buffer = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await handle.read(buffer, got, length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
}
