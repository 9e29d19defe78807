import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';

/** A MemoryStorage whose uploads to `/eio.bin` fail (EIO) after 1 MiB of them: a disk failing mid-upload. */
export class FailingWrites extends MemoryStorage {
  override async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    if (p !== '/eio.bin') return super.write(p, src, o, c);
    let chunks = 0;
    const disk = new Writable({
      write: (_b, _e, done) => done(chunks++ < 4 ? null : new Error('EIO: i/o error, write')),
    });
    await pipeline(src, disk);
    return { bytes: 0 };
  }
}
