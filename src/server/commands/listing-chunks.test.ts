// listingChunks: a listing's lines, as UTF-8 text in chunks of bounded size, the first batch at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileStat, VPath } from '../../storage/types.js';
import { CHUNK_BYTES, listingChunks } from './listing-chunks.js';

const entry = (name: string): FileStat => ({
  name,
  path: `/d/${name}` as VPath,
  type: 'file',
  size: 1,
  modified: new Date(0),
  mode: 0o644,
});

async function* batchesOf(names: string[], size: number): AsyncGenerator<FileStat[]> {
  for (let i = 0; i < names.length; i += size) yield names.slice(i, i + size).map(entry);
}

/** All chunks, kept until the end (a buffer reused after its yield would show here). */
async function collect(names: string[], size: number, format = (st: FileStat) => st.name): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of listingChunks(batchesOf(names, size), format)) out.push(c);
  return out;
}

describe('listingChunks', () => {
  it('gives every line with CRLF, multibyte names intact, in bounded chunks, the first batch at once', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) =>
      i % 3 === 0 ? `fichier-été-${i}.txt` : i % 3 === 1 ? `文件-${i}` : `file-${i}-😀`,
    );
    const chunks = await collect(names, 256);
    const text = Buffer.concat(chunks).toString('utf8');
    assert.equal(text, names.map((n) => `${n}\r\n`).join(''));
    // The first chunk is the first batch alone: the client sees the listing start at once.
    assert.equal(
      chunks[0]?.toString('utf8'),
      names
        .slice(0, 256)
        .map((n) => `${n}\r\n`)
        .join(''),
    );
    // Between first and last, each chunk holds at least CHUNK_BYTES and not much more.
    for (const c of chunks.slice(1, -1)) {
      assert.ok(c.length >= CHUNK_BYTES, `chunk of ${c.length} bytes`);
      assert.ok(c.length <= CHUNK_BYTES + 64 * 1024, `chunk of ${c.length} bytes`);
    }
    assert.ok(chunks.length > 3);
  });

  it('writes a line longer than a chunk whole, and nothing for an empty listing', async () => {
    const long = 'x'.repeat(3 * CHUNK_BYTES);
    const chunks = await collect(['a', 'b', 'c'], 2, (st) => (st.name === 'b' ? long : st.name));
    assert.equal(Buffer.concat(chunks).toString('utf8'), `a\r\n${long}\r\nc\r\n`);
    assert.deepEqual(await collect([], 256), []);
  });
});
