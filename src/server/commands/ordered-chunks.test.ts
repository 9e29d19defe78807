// orderedChunks: a listing's lines in the order asked for, held as encoded lines while it is sorted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileStat } from '../../storage/types.js';
import { HeldEntries, BY_NAME, AS_STORED, type ListingOrder } from './listing-order.js';
import { orderedChunks } from './ordered-chunks.js';
import { CHUNK_BYTES } from './listing-chunks.js';
import { endless, entry, from } from './test-support.js';

const name = (st: FileStat): string => st.name;

/** The lines of each chunk. */
async function lines(it: AsyncIterable<Buffer>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const c of it) out.push(c.toString('utf8').split('\r\n').slice(0, -1));
  return out;
}

test('orderedChunks sorts a listing of up to atMost entries, each batch held told', async () => {
  let steps = 0;
  const held = (): void => void steps++;
  const out = await lines(orderedChunks(from(['c', 'a'], ['d', 'b']), BY_NAME, name, { held, atMost: 4 }));
  assert.deepEqual(out, [['a', 'b', 'c', 'd']]);
  assert.equal(steps, 2);
});

test('orderedChunks: past atMost entries, the lines held go as they came and the rest as read', async () => {
  const out = await lines(orderedChunks(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, name, { atMost: 3 }));
  assert.deepEqual(out.flat(), ['c', 'a', 'e', 'b', 'd']);
});

test('orderedChunks holds no more than the process budget has free, and gives it back once sent', async () => {
  const budget = new HeldEntries(5);
  // Another listing holds 2: this one cannot hold 4 more, and goes on in directory order.
  assert.equal(budget.take(2), true);
  const seen: number[] = [];
  for await (const c of orderedChunks(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, name, { budget }))
    seen.push(budget.free, c.length);
  assert.deepEqual(seen, [1, 6, 3, 6, 3, 3], 'held 2, given back once they went, before the rest');
  budget.give(2);
  const sorted: string[][] = [];
  for await (const c of orderedChunks(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, name, { budget })) {
    assert.equal(budget.free, 0, 'all 5 held while sent');
    sorted.push(c.toString().split('\r\n'));
  }
  assert.deepEqual(sorted, [['a', 'b', 'c', 'd', 'e', '']]);
  assert.equal(budget.free, 5);
  // A reader that stops early gives back what was held too.
  const early = orderedChunks(from(['c', 'a'], ['e', 'b']), BY_NAME, name, { budget });
  await early.next();
  await early.return(undefined);
  assert.equal(budget.free, 5);
});

test('orderedChunks by time and size: newest and largest first, ties by name; -r reverses; -U as read', async () => {
  async function* stats(): AsyncGenerator<readonly FileStat[]> {
    yield [entry('b', 5, 100), entry('a', 5, 300)];
    yield [entry('c', 9, 100)];
  }
  const sorted = async (order: ListingOrder): Promise<string[]> =>
    (await lines(orderedChunks(stats(), order, name))).flat();
  assert.deepEqual(await sorted({ by: 'time', reverse: false }), ['a', 'b', 'c']);
  assert.deepEqual(await sorted({ by: 'time', reverse: true }), ['c', 'b', 'a']);
  assert.deepEqual(await sorted({ by: 'size', reverse: false }), ['c', 'a', 'b']);
  assert.deepEqual(await sorted({ by: 'size', reverse: true }), ['b', 'a', 'c']);
  assert.deepEqual(await sorted({ by: 'name', reverse: true }), ['c', 'b', 'a']);
  assert.deepEqual(await sorted(AS_STORED), ['b', 'a', 'c']);
});

test('orderedChunks keeps multibyte and long lines whole, in chunks of about CHUNK_BYTES', async () => {
  const names = Array.from(
    { length: 9000 },
    (_, i) => `${i % 2 ? '文件' : 'été'}-${String(i).padStart(24, '0')}`,
  );
  const long = 'z'.repeat(2 * CHUNK_BYTES);
  const shuffled = [...names].reverse();
  const chunks: Buffer[] = [];
  for await (const c of orderedChunks(
    from(shuffled.slice(0, 4000), [long], shuffled.slice(4000)),
    BY_NAME,
    name,
  ))
    chunks.push(c);
  const want = [...names, long].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.equal(Buffer.concat(chunks).toString('utf8'), want.map((n) => `${n}\r\n`).join(''));
  for (const c of chunks.slice(0, -1))
    assert.ok(c.length <= 2 * CHUNK_BYTES + 2, `chunk of ${c.length} bytes`);
  assert.ok(chunks.length > 2);
});

test('orderedChunks closes the storage listing when its reader stops early', async () => {
  const { listing, closed } = endless();
  for await (const c of orderedChunks(listing, BY_NAME, name, { atMost: 2 })) {
    assert.equal(c.toString(), 'x\r\nx\r\n');
    break;
  }
  assert.equal(closed(), true);
});

test('orderedChunks: a listing read in order (a local directory names sorted) goes as held, in chunks of whole lines', async () => {
  const names = Array.from({ length: 6000 }, (_, i) => `${String(i).padStart(5, '0')}-${'n'.repeat(60)}`);
  const batches = (list: string[]): string[][] =>
    Array.from({ length: list.length / 500 }, (_, b) => list.slice(b * 500, b * 500 + 500));
  const chunks = async (list: string[]): Promise<Buffer[]> => {
    const out: Buffer[] = [];
    for await (const c of orderedChunks(from(...batches(list)), BY_NAME, name)) out.push(c);
    return out;
  };
  const expected = names.map((n) => `${n}\r\n`).join('');
  const inOrder = await chunks(names);
  assert.equal(Buffer.concat(inOrder).toString(), expected);
  assert.ok(inOrder.length > 1, `${inOrder.length} chunks`);
  for (const c of inOrder) {
    assert.ok(c.length <= CHUNK_BYTES + 100, `${c.length} bytes`);
    assert.equal(c.subarray(-2).toString(), '\r\n', 'a chunk ends at a line end');
  }
  // The same bytes whatever order the storage gave them in.
  assert.equal(Buffer.concat(await chunks([...names].reverse())).toString(), expected);
});
