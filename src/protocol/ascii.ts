import { Transform, type TransformCallback } from 'node:stream';

/**
 * TYPE A conversion (RFC 959 3.1.1.1) as Transforms. Work is per LF/CR found with indexOf, copying
 * whole runs between them, never per byte in JavaScript. A lone CR (not before LF) passes unchanged.
 */

const LF = 0x0a;
const CR = 0x0d;
const CR_ONLY = Buffer.from([CR]);

/**
 * Local text → network: LF becomes CRLF; an existing CRLF (even split across chunks) stays as is.
 * The LFs that need a CR are counted first, then the runs between them copied into one buffer of
 * the final size: no object per line (a slice per line and a concat cost a 512 MiB download more
 * than 1.5 s of CPU, half of it in the garbage collector).
 */
export function toNetworkAscii(): Transform {
  let lastWasCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (chunk.length === 0) return callback();
      const afterCR = lastWasCR;
      lastWasCR = chunk[chunk.length - 1] === CR;
      const bare = (lf: number): boolean => (lf > 0 ? chunk[lf - 1] !== CR : !afterCR);
      let count = 0;
      for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) if (bare(lf)) count++;
      if (count === 0) return callback(null, chunk);
      // The chunk goes to the end of `out` in one copy; each run then moves down within `out`
      // (copyWithin: a memmove, where Buffer.copy makes a view per call, 3× slower per line).
      const out = Buffer.allocUnsafe(chunk.length + count);
      chunk.copy(out, count);
      let to = 0;
      let from = 0;
      for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
        if (!bare(lf)) continue;
        out.copyWithin(to, from + count, lf + count);
        to += lf - from;
        out[to++] = CR;
        from = lf; // the LF goes with the next run
      }
      out.copyWithin(to, from + count);
      callback(null, out);
    },
  });
}

/**
 * Network → local text: CRLF becomes LF. A CR ending a chunk waits for the next byte. Each chunk is
 * converted in place (only ever shorter) and passed on as a slice of itself, so the chunks must be
 * the caller's to change; an upload's reused buffers (gathered-upload.ts) then still come back
 * through `recycle`, one slice per chunk, and no new buffer is made per chunk.
 */
export function fromNetworkAscii(): Transform {
  let pendingCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (chunk.length === 0) return callback();
      // CR + LF across the boundary: the LF alone goes on below. Otherwise the CR was literal.
      if (pendingCR && chunk[0] !== LF) this.push(CR_ONLY);
      pendingCR = false;
      let end = chunk.length;
      if (chunk[end - 1] === CR) {
        pendingCR = true;
        end--;
      }
      // Runs between CRLFs move down over the dropped CRs: one memmove per line (copyWithin).
      let to = 0;
      let from = 0;
      for (let cr = chunk.indexOf(CR); cr >= 0 && cr < end; cr = chunk.indexOf(CR, cr + 1)) {
        if (chunk[cr + 1] !== LF) continue;
        if (to !== from) chunk.copyWithin(to, from, cr);
        to += cr - from;
        from = cr + 1;
      }
      if (to !== from) chunk.copyWithin(to, from, end);
      to += end - from;
      callback(null, to > 0 ? chunk.subarray(0, to) : undefined);
    },
    flush(callback: TransformCallback): void {
      if (pendingCR) {
        pendingCR = false;
        return callback(null, Buffer.from([CR]));
      }
      callback();
    },
  });
}

/**
 * How many bytes a file sends under TYPE A (toNetworkAscii): its size plus one CR per bare LF.
 * SIZE must give that count (RFC 3659 4.1); a client that resumes from it in ASCII mode would
 * otherwise restart at the wrong place. Reads the whole stream.
 */
export async function networkAsciiSize(src: AsyncIterable<Uint8Array>): Promise<number> {
  let size = 0;
  let afterCR = false;
  for await (const c of src) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    if (chunk.length === 0) continue;
    size += chunk.length;
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1))
      if (lf > 0 ? chunk[lf - 1] !== CR : !afterCR) size++;
    afterCR = chunk[chunk.length - 1] === CR;
  }
  return size;
}

/**
 * Drops the first `n` bytes that pass: a TYPE A download restarted at `n` (REST counts the bytes
 * sent, as SIZE does, RFC 3659 5) converts from the file's start and skips what was sent already,
 * a CR added before an LF included.
 */
export function skipBytes(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (left >= chunk.length) {
        left -= chunk.length;
        return callback();
      }
      const rest = left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
      callback(null, rest);
    },
  });
}
