// The two steps of an upload (check the target, then take the bytes) for any backend: one without
// prepareWrite (an embedder's) gets a preparation that checks nothing, its write() checking as ever.
import type { Readable } from 'node:stream';
import { storageError } from './fs-errors.js';
import type { PreparedWrite, StorageBackend, StorageContext, VPath } from './types.js';

export type WriteOptions = { offset: number; append: boolean };

/**
 * Refuses a REST + STOR the file there (`size` bytes; undefined: none) cannot continue: one beyond
 * its end would leave a gap of zeros, gigabytes written (or copied, or uploaded to S3) for a few
 * bytes sent. A client resuming restarts at most at the size it measured.
 */
export function checkRestart(p: VPath, o: WriteOptions, size: number | undefined): void {
  if (o.append || o.offset === 0) return;
  if (size === undefined) throw storageError('not-found', 'write', p);
  if (o.offset > size) throw storageError('beyond-end', 'write', p);
}

export function prepareWrite(
  storage: StorageBackend,
  p: VPath,
  o: WriteOptions,
  c: StorageContext,
): Promise<PreparedWrite> {
  if (storage.prepareWrite) return storage.prepareWrite(p, o, c);
  return Promise.resolve(preparedBy((src, c2) => storage.write(p, src, o, c2)));
}

/** A preparation that holds nothing, or whose holdings `release` lets go (once, and never after write()). */
export function preparedBy(
  write: (src: Readable, c: StorageContext) => Promise<{ bytes: number }>,
  release: () => Promise<void> = async () => {},
): PreparedWrite {
  let settled = false;
  return {
    write(src, c) {
      if (settled) return Promise.reject(new Error('PreparedWrite: used or released already'));
      settled = true;
      return write(src, c);
    },
    async release() {
      if (settled) return;
      settled = true;
      await release();
    },
  };
}
