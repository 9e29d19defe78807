import { Transform, type TransformCallback } from 'node:stream';

/**
 * TYPE A conversion (RFC 959 3.1.1.1) as Transforms. Work is per LF/CR found with indexOf, copying
 * whole runs between them, never per byte in JavaScript. A lone CR (not before LF) passes unchanged.
 */

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from([CR, LF]);
const CR_ONLY = Buffer.from([CR]);

/** Local text → network: LF becomes CRLF; an existing CRLF (even split across chunks) stays as is. */
export function toNetworkAscii(): Transform {
  let lastWasCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (chunk.length === 0) return callback();
      let lf = chunk.indexOf(LF);
      if (lf < 0) {
        lastWasCR = chunk[chunk.length - 1] === CR;
        return callback(null, chunk);
      }
      const parts: Buffer[] = [];
      let from = 0;
      while (lf >= 0) {
        const precededByCR = lf > 0 ? chunk[lf - 1] === CR : lastWasCR;
        if (!precededByCR) {
          parts.push(chunk.subarray(from, lf), CRLF);
          from = lf + 1;
        }
        lf = chunk.indexOf(LF, lf + 1);
      }
      parts.push(chunk.subarray(from));
      lastWasCR = chunk[chunk.length - 1] === CR;
      callback(null, Buffer.concat(parts));
    },
  });
}

/** Network → local text: CRLF becomes LF. A CR ending a chunk waits for the next byte. */
export function fromNetworkAscii(): Transform {
  let pendingCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (chunk.length === 0) return callback();
      const parts: Buffer[] = [];
      if (pendingCR) {
        pendingCR = false;
        // CR + LF across the boundary: the LF alone is emitted below. Otherwise the CR was literal.
        if (chunk[0] !== LF) parts.push(CR_ONLY);
      }
      let from = 0;
      let cr = chunk.indexOf(CR);
      while (cr >= 0) {
        if (cr === chunk.length - 1) {
          parts.push(chunk.subarray(from, cr));
          pendingCR = true;
          from = chunk.length;
          break;
        }
        if (chunk[cr + 1] === LF) {
          parts.push(chunk.subarray(from, cr));
          from = cr + 1;
        }
        cr = chunk.indexOf(CR, cr + 1);
      }
      if (from < chunk.length) parts.push(chunk.subarray(from));
      const out = parts.length === 1 ? (parts[0] ?? chunk) : Buffer.concat(parts);
      callback(null, out.length > 0 ? out : undefined);
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
