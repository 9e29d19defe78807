// The record of file versions cut uploads left: only that exact version is refused a resume, the
// processes sharing the file see each other's records, and records expire and are capped.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { CUT_TTL_MS, CutUploads, cutKey, type FileVersion } from './cut-uploads.js';

const MAX = 10;
const OLD: FileVersion = { id: 'fe00g12', size: 4_000_000, modified: 1_700_000_000_000 };
const at = (v: FileVersion) => () => Promise.resolve(v);

describe('cut uploads', () => {
  it('refuses only the version the cut left: a new upload, size or mtime ends it; other users and paths are apart', async () => {
    const cuts = new CutUploads(undefined);
    const key = cutKey('gui', '/doc.bin');
    await cuts.remember(key, OLD);
    assert.equal(await cuts.isCut(key, at(OLD)), true);
    assert.equal(await cuts.isCut(key, at({ ...OLD, id: 'fe00g13' })), false, 'replaced (a new inode)');
    assert.equal(await cuts.isCut(key, at({ ...OLD, size: OLD.size + 1 })), false, 'grown');
    assert.equal(await cuts.isCut(key, at({ ...OLD, modified: OLD.modified + 1000 })), false, 'touched');
    assert.equal(await cuts.isCut(key, () => Promise.resolve(undefined)), false, 'deleted');
    assert.equal(await cuts.isCut(cutKey('bob', '/doc.bin'), at(OLD)), false);
    assert.equal(await cuts.isCut(cutKey('gui', '/other.bin'), at(OLD)), false);
  });

  it('remember says whether a record of that version stood (this process’s or the file’s, unexpired)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let now = 1_800_000_000_000;
    const clock = (): number => now;
    const alone = new CutUploads(undefined, { now: clock });
    const key = cutKey('gui', '/doc.bin');
    assert.equal((await alone.remember(key, OLD)).stood, false, 'none yet');
    assert.equal((await alone.remember(key, OLD)).stood, true, 'in memory');
    assert.equal((await alone.remember(key, { ...OLD, size: OLD.size + 1 })).stood, false, 'another version');
    const file = join(dir, 'cut-uploads.json');
    const [one, two] = [new CutUploads(file, { now: clock }), new CutUploads(file, { now: clock })];
    await one.remember(key, OLD);
    assert.equal((await two.remember(key, OLD)).stood, true, 'in the file (another process’s)');
    now += CUT_TTL_MS + 1;
    assert.equal((await one.remember(key, OLD)).stood, false, 'expired');
  });

  it('forgetOwn drops only the record it names: one another upload of the file wrote since stays', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let now = 1_800_000_000_000;
    const clock = (): number => now;
    const key = cutKey('gui', '/doc.bin');
    // One process, the same millisecond: each record still has its own `at`.
    const alone = new CutUploads(undefined, { now: clock });
    const [first, second] = [await alone.remember(key, OLD), await alone.remember(key, OLD)];
    assert.notEqual(first.own.at, second.own.at);
    await alone.forgetOwn(key, first.own);
    assert.equal(await alone.isCut(key, at(OLD)), true, 'the second upload’s record stays');
    await alone.forgetOwn(key, second.own);
    assert.equal(await alone.isCut(key, at(OLD)), false);
    // Two processes sharing the file.
    const file = join(dir, 'cut-uploads.json');
    const [one, two] = [new CutUploads(file, { now: clock }), new CutUploads(file, { now: clock })];
    const mine = await one.remember(key, OLD);
    now += 1;
    const theirs = await two.remember(key, OLD);
    await one.forgetOwn(key, mine.own);
    assert.equal(await one.isCut(key, at(OLD)), true, 'the other process’s record stays in the file');
    await two.forgetOwn(key, theirs.own);
    assert.equal(await one.isCut(key, at(OLD)), false, 'gone from the file');
    assert.equal(await two.isCut(key, at(OLD)), false, 'and from its memory');
  });

  it('forgetOwn: two processes recording the same version in the same millisecond drop only their own', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const clock = (): number => 1_800_000_000_000; // the same millisecond for both
    const key = cutKey('gui', '/doc.bin');
    const file = join(dir, 'cut-uploads.json');
    const [one, two] = [new CutUploads(file, { now: clock }), new CutUploads(file, { now: clock })];
    const mine = await one.remember(key, OLD);
    const theirs = await two.remember(key, OLD);
    assert.equal(mine.own.at, theirs.own.at, 'the same `at`: told apart by the process');
    await one.forgetOwn(key, mine.own);
    assert.equal(await one.isCut(key, at(OLD)), true, 'the other process’s record stays in the file');
    await two.forgetOwn(key, theirs.own);
    assert.equal(await one.isCut(key, at(OLD)), false, 'gone from the file');
  });

  it('reads a file written before records had a tag', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const now = 1_800_000_000_000;
    const file = join(dir, 'cut-uploads.json');
    const key = cutKey('gui', '/doc.bin');
    await writeFile(file, `${JSON.stringify({ cuts: { [key]: { ...OLD, at: now - 1 } } })}\n`);
    const cuts = new CutUploads(file, { now: () => now });
    assert.equal(await cuts.isCut(key, at(OLD)), true);
    assert.equal((await cuts.remember(key, OLD)).stood, true);
  });

  it('with a file, a record one instance (process) writes is seen by another; it expires; their number is capped', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cut-uploads.json');
    let now = 1_800_000_000_000;
    const clock = (): number => now;
    const [one, two] = [
      new CutUploads(file, { now: clock, max: MAX }),
      new CutUploads(file, { now: clock, max: MAX }),
    ];
    const key = cutKey('gui', '/doc.bin');
    await one.remember(key, OLD);
    assert.equal(await two.isCut(key, at(OLD)), true, 'seen by the other process');
    now += CUT_TTL_MS + 1;
    assert.equal(await two.isCut(key, at(OLD)), false, 'expired');

    for (let i = 0; i < MAX + 5; i++) await two.remember(cutKey('gui', `/f${i}`), OLD);
    const kept = Object.keys((JSON.parse(await readFile(file, 'utf8')) as { cuts: object }).cuts);
    assert.equal(kept.length, MAX);
    assert.ok(!kept.includes(key) && !kept.includes(cutKey('gui', '/f0')), 'the expired and the oldest go');
    assert.equal(await one.isCut(cutKey('gui', `/f${MAX + 4}`), at(OLD)), true);
  });
});

describe('cut uploads: what one user can hold', () => {
  it('one user’s cuts beyond the per-user bound evict only that user’s oldest, never another user’s record', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cut-uploads.json');
    let now = 1_800_000_000_000;
    const clock = (): number => now++;
    const o = { now: clock, max: MAX, maxPerUser: 3 };
    for (const cuts of [new CutUploads(undefined, o), new CutUploads(file, o)]) {
      const bob = cutKey('bob', '/report.bin');
      await cuts.remember(bob, OLD);
      for (let i = 0; i <= MAX; i++) await cuts.remember(cutKey('eve', `/f${i}`), OLD);
      assert.equal(await cuts.isCut(bob, at(OLD)), true, `bob's record stands (${cuts.file ?? 'memory'})`);
      assert.equal(await cuts.isCut(cutKey('eve', `/f${MAX - 3}`), at(OLD)), false, 'eve’s oldest went');
      for (let i = MAX - 2; i <= MAX; i++)
        assert.equal(await cuts.isCut(cutKey('eve', `/f${i}`), at(OLD)), true, `eve’s /f${i} stays`);
    }
    const reader = new CutUploads(file, o); // another worker reading the file
    assert.equal(await reader.isCut(cutKey('bob', '/report.bin'), at(OLD)), true);
    const stored = Object.keys((JSON.parse(await readFile(file, 'utf8')) as { cuts: object }).cuts);
    assert.equal(stored.length, 4, 'bob’s one and eve’s three');
  });

  it('a record’s size does not grow with its path’s length', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cut-uploads.json');
    const cuts = new CutUploads(file);
    const long = `/${Array.from({ length: 18 }, () => 'd'.repeat(200)).join('/')}/f`;
    await cuts.remember(cutKey('eve', '/f'), OLD);
    const short = (await readFile(file, 'utf8')).length;
    await cuts.forget(cutKey('eve', '/f'));
    await cuts.remember(cutKey('eve', long), OLD);
    assert.equal((await readFile(file, 'utf8')).length, short, 'the same size for a 3.6 KB path as for /f');
    assert.equal(await new CutUploads(file).isCut(cutKey('eve', long), at(OLD)), true);
  });

  it('honours a record written before keys were digests (the full path), and rewrites it as one', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const now = 1_800_000_000_000;
    const file = join(dir, 'cut-uploads.json');
    const legacy = { [`gui\u0000/doc.bin`]: { ...OLD, at: now - 1, tag: 'x' } };
    await writeFile(file, `${JSON.stringify({ cuts: legacy })}\n`);
    const cuts = new CutUploads(file, { now: () => now });
    assert.equal(await cuts.isCut(cutKey('gui', '/doc.bin'), at(OLD)), true);
    assert.equal(await cuts.isCut(cutKey('bob', '/doc.bin'), at(OLD)), false, 'another user’s file');
    await cuts.remember(cutKey('gui', '/other.bin'), OLD);
    const stored = Object.keys((JSON.parse(await readFile(file, 'utf8')) as { cuts: object }).cuts);
    assert.deepEqual(stored.sort(), [cutKey('gui', '/doc.bin'), cutKey('gui', '/other.bin')].sort());
    assert.equal(await new CutUploads(file).isCut(cutKey('gui', '/doc.bin'), at(OLD)), true);
  });

  it('sees another process’s write to the file, though it read the file before', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'cut-uploads.json');
    const [one, two] = [new CutUploads(file), new CutUploads(file)];
    const key = cutKey('gui', '/doc.bin');
    await one.remember(cutKey('gui', '/first'), OLD);
    assert.equal(await two.isCut(key, at(OLD)), false, 'read (and kept) before');
    await one.remember(key, OLD);
    assert.equal(await two.isCut(key, at(OLD)), true, 'the newer file read again');
    await one.forget(key);
    assert.equal(await two.isCut(key, at(OLD)), false);
    await two.remember(cutKey('gui', '/second'), OLD); // two's write merges one's records
    assert.equal(await one.isCut(cutKey('gui', '/first'), at(OLD)), true);
  });
});

describe('cut uploads written by two processes at once', () => {
  /** A process recording `n` cuts at once and forgetting the odd ones (their uploads completed). */
  const child = (file: string, user: string, n: number): string => `
    import { CutUploads, cutKey } from ${JSON.stringify(new URL('./cut-uploads.js', import.meta.url).href)};
    const warnings = [];
    const noop = () => {};
    const logger = { debug: noop, info: noop, error: noop, warn: (o, m) => warnings.push(m), child: () => logger };
    const cuts = new CutUploads(${JSON.stringify(file)}, { logger });
    const v = ${JSON.stringify(OLD)};
    await Promise.all(Array.from({ length: ${n} }, async (_, i) => {
      const key = cutKey(${JSON.stringify(user)}, '/f' + i);
      await cuts.remember(key, v);
      if (i % 2 === 1) await cuts.forget(key);
    }));
    process.stdout.write(JSON.stringify(warnings));`;

  it(
    'every record and every removal lands, though a dead process left the lock',
    { timeout: 60_000 },
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'ferry-cuts-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'cut-uploads.json');
      // A worker killed while it held the lock (before this fix: every change waited 10 s, then was dropped).
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      await writeFile(`${file}.lock`, `${dead} ${hostname()}\n`);
      const N = 100;
      const run = (user: string): Promise<string[]> =>
        new Promise((resolve, reject) => {
          const p = spawn(process.execPath, ['--input-type=module', '-e', child(file, user, N)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          p.stdout.on('data', (d: Buffer) => (out += d.toString()));
          p.on('error', reject);
          p.on('exit', (code) =>
            code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`exit ${code}`)),
          );
        });
      const warnings = (await Promise.all([run('ann'), run('bob')])).flat();
      assert.deepEqual(
        warnings.filter((w) => !w.includes('taken over from process')),
        [],
        'no change given up',
      );
      assert.equal(warnings.length, 1, 'the dead holder is told once');
      const kept = Object.keys((JSON.parse(await readFile(file, 'utf8')) as { cuts: object }).cuts).sort();
      const even = (user: string) => Array.from({ length: N / 2 }, (_, i) => cutKey(user, `/f${2 * i}`));
      assert.deepEqual(
        kept,
        [...even('ann'), ...even('bob')].sort(),
        'the cuts kept, the completed ones gone',
      );
    },
  );
});

/** cut-uploads.json on a real full disk: a 1 MiB tmpfs (mounting needs root, as CI has). */
describe('cut uploads on a full disk', { skip: process.getuid?.() !== 0 }, () => {
  const run = promisify(execFile);
  let mount: string;
  let file: string;
  const fill = (): Promise<unknown> =>
    run('dd', ['if=/dev/zero', `of=${join(mount, 'fill')}`, 'bs=64k']).catch(() => {});
  const stored = async (): Promise<string[]> =>
    Object.keys((JSON.parse(await readFile(file, 'utf8')) as { cuts: object }).cuts);

  before(async () => {
    mount = await mkdtemp(join(tmpdir(), 'ferry-cuts-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    file = join(mount, 'cut-uploads.json');
  });
  after(async () => {
    await run('umount', [mount]).catch(() => {});
    await rm(mount, { recursive: true, force: true });
  });

  it('a record the file cannot take is kept and goes in its next write, which another worker then sees', async () => {
    const [one, two] = [new CutUploads(file), new CutUploads(file)];
    await one.remember(cutKey('gui', '/first'), OLD);
    await fill();
    const key = cutKey('gui', '/doc.bin');
    await one.remember(key, OLD); // resolves: never fails
    assert.equal(await two.isCut(key, at(OLD)), false, 'not in the file yet');
    await rm(join(mount, 'fill'));
    await one.remember(cutKey('gui', '/other'), OLD);
    assert.equal(await two.isCut(key, at(OLD)), true, 'written with the next change');
    assert.deepEqual(
      (await stored()).sort(),
      [cutKey('gui', '/doc.bin'), cutKey('gui', '/first'), cutKey('gui', '/other')].sort(),
    );
    await Promise.all([one.close(), two.close()]);
  });

  it('is retried by itself once there is room, and said so', { timeout: 30_000 }, async () => {
    let written!: () => void;
    const retried = new Promise<void>((resolve) => (written = resolve));
    const warnings: string[] = [];
    const noop = (): void => {};
    const logger: Logger = {
      debug: noop,
      info: noop,
      error: noop,
      warn: (_obj, msg = '') => {
        warnings.push(msg);
        if (msg.includes('after retries')) written();
      },
      child: () => logger,
    };
    const cuts = new CutUploads(file, { logger });
    await fill();
    const key = cutKey('gui', '/retried.bin');
    await cuts.remember(key, OLD);
    await rm(join(mount, 'fill'));
    // The retry's timer is unref'd (a server's sockets keep its process up): this test's keeps it.
    const alive = setInterval(noop, 60_000);
    await retried.finally(() => clearInterval(alive)); // no further change: the retry alone writes it
    assert.ok((await stored()).includes(key));
    assert.equal(cuts.pending, 0);
    assert.match(warnings[0] ?? '', /not written to their file yet: retrying/);
    await cuts.close();
  });
});
