// The check-then-use race of issue 6: a local user swaps a served directory for a symlink to the
// outside while LocalStorage works in it. Nothing may be read from, listed from, created in,
// changed in or removed from the outside, however the races fall.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStorage } from '../../src/storage/local.js';
import { ctx, listed, readAll, source, v } from '../../src/storage/test-support.js';
import { buildRaceTree, INSIDE, snapshot, startAttacker, VICTIMS } from '../support/rename-race.js';

/** Concurrent workers, each doing this many rounds of every operation under /a. */
const WORKERS = 8;
const ROUNDS = VICTIMS / WORKERS;

describe('LocalStorage under a directory-swapping attacker', { timeout: 240_000 }, () => {
  // Listings look entries up through the directory's magic link, or from inside it (borrowed).
  for (const borrowWorkingDirectory of [false, true])
    it(`never reads, lists, writes, changes or removes anything outside the root${borrowWorkingDirectory ? ' (listings borrow the working directory)' : ''}`, async (t) => {
      const base = await mkdtemp(join(tmpdir(), 'ferry-race-'));
      t.after(() => rm(base, { recursive: true, force: true }));
      const tree = await buildRaceTree(join(base, 'root'), join(base, 'outside'));
      const s = new LocalStorage({ root: tree.root, borrowWorkingDirectory });
      const c = ctx();
      const escapes: string[] = [];
      let succeeded = 0;
      const attempt = async (op: () => Promise<void>): Promise<void> => {
        try {
          await op();
          succeeded++;
        } catch {
          // refused or not found while the directory is swapped: what a jail may do
        }
      };
      const worker = async (w: number): Promise<void> => {
        for (let r = 0; r < ROUNDS; r++) {
          const i = w * ROUNDS + r;
          await attempt(async () => {
            const text = await readAll(await s.openRead(v('/a/f.txt'), { offset: 0 }, c));
            if (text !== INSIDE) escapes.push(`read ${JSON.stringify(text)}`);
          });
          await attempt(async () => {
            const st = await s.stat(v('/a/f.txt'), c);
            if (st.size !== INSIDE.length) escapes.push(`stat size ${st.size}`);
          });
          await attempt(async () => {
            for (const e of await listed(s, '/a', c)) {
              if (e.name === 'only-outside.txt') escapes.push('listed the outside');
              if (e.name === 'f.txt' && e.size !== INSIDE.length) escapes.push(`listed size ${e.size}`);
            }
          });
          await attempt(() => s.write(v(`/a/w-${i}`), source('w'), { offset: 0, append: false }, c).then());
          await attempt(() => s.write(v('/a/f.txt'), source(''), { offset: 0, append: true }, c).then());
          await attempt(() => s.mkdir(v(`/a/d-${i}`), c));
          await attempt(() => s.rename(v(`/a/w-${i}`), v(`/a/m-${i}`), c));
          await attempt(() => s.setModified(v('/a/f.txt'), new Date(0), c));
          await attempt(() => s.chmod(v('/a/f.txt'), 0o600, c));
          await attempt(() => s.remove(v(`/a/v-${i}`), c));
          await attempt(() => s.removeDir(v(`/a/e-${i}`), c));
          await attempt(async () => {
            const p = await s.uniqueName(v('/a'), c);
            await s.write(p, source('u'), { offset: 0, append: false }, c);
          });
        }
      };
      const attacker = await startAttacker(tree);
      try {
        await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      } finally {
        await attacker.stop();
      }
      const counts = new Map<string, number>();
      for (const e of escapes) counts.set(e, (counts.get(e) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(counts), {}, 'escapes (kind: count)');
      assert.equal(await snapshot(tree.outside), tree.outsideBefore, 'the outside changed');
      // Failed uploads remove their temp file by the directory they created it in, wherever it moved.
      const leftovers = (await readdir(tree.root, { recursive: true })).filter((n) =>
        n.includes('.ferry-upload-'),
      );
      assert.deepEqual(leftovers, [], 'upload temp files left behind');
      assert.ok(succeeded > 0, 'no operation got through at all: the test tested nothing');
      t.diagnostic(`${succeeded} operations succeeded`);
    });
});
