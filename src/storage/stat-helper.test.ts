import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StatHelper } from './stat-helper.js';
import { insideDirectory } from './working-directory.js';

const FILES = 200;
const name = (i: number): string => `f${String(i).padStart(3, '0')}`;
const names = Array.from({ length: FILES }, (_, i) => name(i));
const twoCores = availableParallelism() >= 2;

/** Two directories with the same names: in `a` file i holds i bytes, in `b` i + 1000. */
function directories(t: TestContext): { a: string; b: string } {
  const top = mkdtempSync(join(tmpdir(), 'ferry-stat-helper-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const a = join(top, 'a');
  const b = join(top, 'b');
  mkdirSync(a);
  mkdirSync(b);
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(a, name(i)), Buffer.alloc(i));
    writeFileSync(join(b, name(i)), Buffer.alloc(i + 1000));
  }
  return { a, b };
}

function helper(t: TestContext, idleMs?: number): StatHelper {
  const h = new StatHelper(idleMs === undefined ? {} : { idleMs });
  t.after(() => h.close());
  return h;
}

/** lstatAll of `list` from inside `dir`, as a listing that borrows the working directory does. */
const inside = (h: StatHelper, dir: string, list: readonly string[]): ReturnType<StatHelper['lstatAll']> =>
  insideDirectory(`${dir}/`, (prefix) => h.lstatAll(list, prefix, 1_000));

function assertSameAsLstat(dir: string, got: ReturnType<StatHelper['lstatAll']>, list = names): void {
  assert.equal(got.stats.length, list.length);
  for (const [i, n] of list.entries()) {
    const want = lstatSync(join(dir, n));
    const st = got.stats[i];
    assert.ok(st, n);
    assert.equal(st.size, want.size, n);
    assert.equal(st.mode, want.mode, n);
    assert.equal(st.ino, want.ino, n);
    assert.equal(st.dev, want.dev, n);
    assert.equal(st.mtime.getTime(), want.mtime.getTime(), n);
  }
}

/**
 * Runs `call` until the helper thread has answered part of one (it takes names only while the
 * calling thread has some left: a call made while it sleeps may be done before it wakes).
 */
function helpedWith(h: StatHelper, call: () => void): void {
  const before = h.helped;
  for (let i = 0; i < 1_000 && h.helped === before; i++) call();
  assert.ok(h.helped > before, 'the helper answered some names');
}

describe('StatHelper', { skip: twoCores ? false : 'one core: the helper never starts' }, () => {
  it("lstat's names on its thread too, relative to the directory the caller holds", async (t) => {
    const { a, b } = directories(t);
    const h = helper(t);
    await h.start();
    assert.ok(h.ready);
    // One directory and then the other, same names: an answer read before the helper wrote it
    // (the other directory's, from the call before), or looked up after the caller left the
    // directory, would show the other's sizes (or none).
    for (let round = 0; round < 50; round++) {
      for (const dir of [a, b]) assertSameAsLstat(dir, inside(h, dir, names));
    }
    helpedWith(h, () => assertSameAsLstat(a, inside(h, a, names)));
    // Without the working directory: under the directory's path.
    helpedWith(h, () => assertSameAsLstat(b, h.lstatAll(names, `${b}/`, 1_000)));
  });

  it('leaves out a name that no longer exists, and throws what lstatSync throws for another failure', async (t) => {
    const { a } = directories(t);
    const h = helper(t);
    await h.start();
    // Whichever thread takes them: every other name missing, and an overlong one.
    const gone = names.flatMap((n) => [n, `${n}-gone`]);
    helpedWith(h, () => {
      const got = inside(h, a, gone);
      assertSameAsLstat(a, { stats: got.stats.filter((_, i) => i % 2 === 0), slow: 0 });
      for (let i = 1; i < gone.length; i += 2) assert.equal(got.stats[i], undefined, gone[i]);
    });
    const long = names.map((n, i) => (i % 10 === 9 ? 'x'.repeat(300) : n));
    for (let i = 0; i < 20; i++) assert.throws(() => inside(h, a, long), { code: 'ENAMETOOLONG' });
    helpedWith(h, () => assertSameAsLstat(a, inside(h, a, names))); // and it goes on working
  });

  it('does it all on the calling thread before it is started and after it is closed', async (t) => {
    const { a } = directories(t);
    const h = helper(t);
    assertSameAsLstat(a, inside(h, a, names));
    assert.equal(h.helped, 0);
    await h.start();
    await h.close();
    await h.exited();
    assert.equal(h.ready, false);
    const before = h.helped;
    assertSameAsLstat(a, inside(h, a, names));
    assert.equal(h.helped, before);
    await h.start(); // closed for good
    assert.equal(h.ready, false);
  });

  it('stops its thread once idle, and starts again when asked', async (t) => {
    const { a } = directories(t);
    const h = helper(t, 1);
    await h.start();
    assertSameAsLstat(a, inside(h, a, names));
    await h.exited(); // the idle time ran out
    assert.equal(h.ready, false);
    await h.start();
    assert.ok(h.ready);
    helpedWith(h, () => assertSameAsLstat(a, inside(h, a, names)));
  });
});
