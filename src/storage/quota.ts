// Quotas: what a user stores (bytes and regular files over their home), where it is kept between
// restarts (a UsageLedger), how it is counted from scratch (scanUsage), and the cap that stops an
// upload the moment it would cross the quota.
import { Transform, type TransformCallback } from 'node:stream';
import { FerryError } from '../errors.js';
import { joinVPath, ROOT } from './virtual-path.js';
import type { StorageBackend, StorageContext, VPath } from './types.js';

export interface Usage {
  bytes: number;
  files: number;
}

/**
 * Where usage is kept (the server's: `<dataDir>/usage.json`). `add` changes a record that exists
 * and does nothing otherwise (a missing record is counted by a scan at its next use); `init`
 * stores a scanned usage unless a record appeared meanwhile.
 */
export interface UsageLedger {
  get(username: string): Promise<Usage | undefined>;
  init(username: string, usage: Usage): Promise<Usage>;
  add(username: string, delta: Usage): Promise<void>;
  /** Drops the record: the next use counts again. */
  forget(username: string): Promise<void>;
}

export const quotaExceeded = (what: string): FerryError =>
  new FerryError('ERR_QUOTA_EXCEEDED', `Quota exceeded: ${what}.`);

/** Counts every regular file under `dir` (links are not followed; upload temp files are not listed). */
export async function scanUsage(
  storage: StorageBackend,
  c: StorageContext,
  dir: VPath = ROOT,
): Promise<Usage> {
  const total: Usage = { bytes: 0, files: 0 };
  const dirs: VPath[] = [dir];
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
    for await (const e of storage.list(d, c)) {
      if (e.type === 'dir') dirs.push(joinVPath(d, e.name));
      else if (e.type === 'file') {
        total.bytes += e.size;
        total.files += 1;
      }
    }
  }
  return total;
}

/** Fails with 552 once more than `limit` bytes have passed, before passing the byte that crosses. */
export class QuotaCap extends Transform {
  #left: number;

  constructor(limit: number) {
    super();
    this.#left = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) return done(quotaExceeded('storage size'));
    done(null, chunk);
  }
}
