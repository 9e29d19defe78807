import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isRecycling } from './recycling.js';
import { isPaceable, type TokenBucket } from './throttle.js';

/**
 * Pipes `src` through `stages` and returns the last, which the reader holds: an error anywhere
 * destroys it. `wholeChunks`: every stage passes each chunk on as one slice of itself (a quota cap,
 * TYPE A's in-place conversion), so the reader can still hand chunks back to a recycling `src`;
 * without it a stage may slice them (a throttle), and a slice handed back would free the rest of
 * its chunk while still in flight. Fresh buffers per chunk cost a 1 GiB upload ~0.5 s of GC. A
 * `src` that paces its own reads (PaceableReadable) is paced through the chain too (TYPE A's).
 */
export function chain(
  src: Readable,
  stages: readonly Transform[],
  o: { wholeChunks?: boolean } = {},
): Transform {
  const last = stages[stages.length - 1];
  if (!last) throw new RangeError('chain: no stage');
  pipeline([src, ...stages]).catch((err: unknown) =>
    last.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  if (isPaceable(src)) Object.assign(last, { pace: (bucket: TokenBucket) => src.pace(bucket) });
  if (!o.wholeChunks || !isRecycling(src)) return last;
  return Object.assign(last, { recycle: (chunk: Buffer) => src.recycle(chunk) });
}
