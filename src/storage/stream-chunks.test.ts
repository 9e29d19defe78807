// chunksOf: chunks pass as they came (no joined copies), a stream cut or failed never looks
// complete, and a slow consumer pauses the source.
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { chunksOf } from './stream-chunks.js';

async function all(src: Readable, ahead?: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of chunksOf(src, ahead)) out.push(c);
  return out;
}

test('chunksOf hands on each chunk as written, even when several wait', async () => {
  const src = new PassThrough();
  const a = Buffer.from('first');
  const b = Buffer.from('second');
  src.write(a);
  src.write(b); // both buffered before the consumer starts: read() would join them
  src.end();
  const got = await all(src);
  assert.deepEqual(
    got.map((c) => c.toString()),
    ['first', 'second'],
  );
});

test('chunksOf rejects a stream destroyed before its end, and one that fails', async () => {
  const cut = new PassThrough();
  cut.write('part');
  setImmediate(() => cut.destroy());
  await assert.rejects(all(cut), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

  const failed = new PassThrough();
  failed.write('part');
  setImmediate(() => failed.destroy(new Error('no close_notify')));
  await assert.rejects(all(failed), /no close_notify/);

  const already = new PassThrough();
  already.destroy();
  await assert.rejects(all(already), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
});

test('chunksOf pauses the source while `ahead` bytes wait, and destroys it when left early', async () => {
  const src = new PassThrough();
  const it = chunksOf(src, 4);
  const first = it.next();
  src.write(Buffer.alloc(3));
  src.write(Buffer.alloc(3)); // 6 ≥ 4 queued: paused
  assert.equal((await first).value?.length, 3);
  assert.equal(src.isPaused(), false, 'resumed once below `ahead`');
  await it.return(undefined);
  assert.equal(src.destroyed, true);
});
