import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileStat } from '../../storage/types.js';
import { byName, HeldEntries, listingOrder, ordered, BY_NAME, type ListingOrder } from './listing-order.js';
import { endless, entry, from } from './test-support.js';

async function names(it: AsyncIterable<readonly FileStat[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const b of it) out.push(b.map((e) => e.name));
  return out;
}

test('listingOrder reads ls option words as GNU ls does: the last of -t/-S/-U wins, -r reverses, -f is -U', () => {
  assert.deepEqual(listingOrder('-la'), BY_NAME);
  assert.deepEqual(listingOrder('-lt'), { by: 'time', reverse: false });
  assert.deepEqual(listingOrder('-l -t -r'), { by: 'time', reverse: true });
  assert.deepEqual(listingOrder('-tS'), { by: 'size', reverse: false });
  assert.deepEqual(listingOrder('-Sf '), { by: 'none', reverse: false });
  assert.deepEqual(listingOrder('-Ur'), { by: 'none', reverse: false }, '-r reverses a sort only');
  assert.deepEqual(listingOrder('--sort=time --reverse'), { by: 'time', reverse: true });
  assert.deepEqual(listingOrder('--sort=bogus'), BY_NAME);
  assert.deepEqual(listingOrder('--directory'), BY_NAME, 'long options are not letters');
});

test('byName orders as the names UTF-8 bytes compare (strcmp), astral characters after U+FFxx', () => {
  const names = ['b', 'a', 'B', 'ab', 'a', '', 'é', '😀', 'ｚ', '\uE000', 'z', '日本', '\u007f'];
  const bytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual([...names].sort(byName), bytes);
  assert.notDeepEqual([...names].sort(), bytes, 'plain sort() differs: the case is not trivial');
});

test('ordered sorts a listing of up to atMost entries and hands it on in batches', async () => {
  let steps = 0;
  const held = () => void steps++;
  const out = await names(ordered(from(['c', 'a'], ['d', 'b']), BY_NAME, { held, atMost: 4 }));
  assert.deepEqual(out, [[], ['a', 'b', 'c', 'd']], 'an empty batch once the directory is open');
  assert.equal(steps, 2, 'each batch held counts as progress');
});

test('ordered: past atMost entries, what it holds goes on unsorted and the rest as it comes', async () => {
  const out = await names(ordered(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, { atMost: 3 }));
  assert.deepEqual(out, [[], ['c', 'a', 'e', 'b'], ['d']]);
});

test('ordered holds no more than the process budget has free, and gives back what it sent', async () => {
  const budget = new HeldEntries(5);
  // Another listing holds 2: this one cannot hold 4 more, and goes on in directory order.
  assert.equal(budget.take(2), true);
  const out = await names(ordered(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, { budget }));
  assert.deepEqual(out, [[], ['c', 'a', 'e', 'b'], ['d']]);
  assert.equal(budget.free, 3, 'all given back');
  budget.give(2);
  const sorted = ordered(from(['c', 'a'], ['e', 'b'], ['d']), BY_NAME, { budget });
  const seen: number[] = [];
  for await (const b of sorted) seen.push(budget.free, b.length);
  assert.deepEqual(seen, [3, 0, 5, 5], 'held 2 when the first batch came, 5 back once sent');
  // A reader that stops early gives back what was held too.
  const early = ordered(from(['c', 'a'], ['e', 'b']), BY_NAME, { budget });
  await early.next();
  await early.return(undefined);
  assert.equal(budget.free, 5);
});

test('ordered by time and size: newest and largest first, ties by name; -U -r reverses the order', async () => {
  async function* stats(): AsyncGenerator<readonly FileStat[]> {
    yield [entry('b', 5, 100), entry('a', 5, 300), entry('c', 9, 100)];
  }
  const sorted = async (order: ListingOrder): Promise<string[]> =>
    (await names(ordered(stats(), order))).flat();
  assert.deepEqual(await sorted({ by: 'time', reverse: false }), ['a', 'b', 'c']);
  assert.deepEqual(await sorted({ by: 'size', reverse: false }), ['c', 'a', 'b']);
  assert.deepEqual(await sorted({ by: 'size', reverse: true }), ['b', 'a', 'c']);
  assert.deepEqual(await sorted({ by: 'name', reverse: true }), ['c', 'b', 'a']);
});

test('ordered closes the storage listing when its reader stops early', async () => {
  const { listing, closed } = endless();
  for await (const batch of ordered(listing, BY_NAME, { atMost: 2 })) {
    if (batch.length === 0) continue;
    assert.equal(batch.length, 3);
    break;
  }
  assert.equal(closed(), true);
});
