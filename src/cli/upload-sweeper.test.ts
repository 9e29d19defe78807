import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { silentLogger, type Logger } from '../logger.js';
import { sweepStaleUploads } from '../storage/upload-temp.js';
import { localRoots, recountUsageIn, UploadSweeper, type RecountSetup } from './upload-sweeper.js';

// A temp file of an upload no process will finish (the name of an older release: always stale).
const STALE = '.ferry-upload-0123abcd.tmp';

test('a dead upload in a home nested in a swept one, or in a virtual folder, has its users counted again', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-sweep-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [pub, bob, team, other] = [
    path.join(dir, 'pub'),
    path.join(dir, 'pub', 'bob'),
    path.join(dir, 'team'),
    path.join(dir, 'other'),
  ] as const;
  for (const d of [bob, path.join(team, 'sub'), other]) await mkdir(d, { recursive: true });
  await writeFile(path.join(bob, STALE), 'x');
  await writeFile(path.join(team, 'sub', STALE), 'x');
  const forgotten: string[] = [];
  const setup: RecountSetup = {
    limits: { usage: { ledger: { charge: async () => true, forget: async (u) => void forgotten.push(u) } } },
    users: {
      accounts: [
        { username: 'anonymous', home: pub },
        { username: 'bob', home: bob },
        { username: 'carol', home: other, folders: { '/team': team } },
        { username: 'dave', home: other },
      ],
    },
  };
  assert.deepEqual(setup.users.accounts.flatMap(localRoots), [pub, bob, other, team, other]);
  const sweep = async (root: string): Promise<string[]> => {
    const dirs: string[] = [];
    await sweepStaleUploads(root, new AbortController().signal, (d) => dirs.push(d));
    await recountUsageIn(dirs, setup, silentLogger);
    return dirs;
  };

  // Sweeping the outer home removes bob's file: bob's usage is the one its charge went to.
  assert.equal((await sweep(pub)).length, 1);
  assert.deepEqual(forgotten.sort(), ['anonymous', 'bob']);
  // bob's own sweep then finds nothing: nothing more is dropped.
  forgotten.length = 0;
  assert.deepEqual(await sweep(bob), []);
  assert.deepEqual(forgotten, []);
  // A folder outside any home is swept too, and its users counted again.
  assert.equal((await sweep(team)).length, 1);
  assert.deepEqual(forgotten, ['carol']);
});

test('a sweep of many homes logs a line only for a home where it removed something', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-sweep-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const homes = Array.from({ length: 50 }, (_, i) => path.join(dir, `u${i}`));
  for (const h of homes) await mkdir(h);
  await writeFile(path.join(homes[7] ?? '', STALE), 'x');
  const lines: { level: string; msg: string; obj: object }[] = [];
  const logger: Logger = {
    debug: (obj, msg = '') => void lines.push({ level: 'debug', msg, obj }),
    info: (obj, msg = '') => void lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg = '') => void lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg = '') => void lines.push({ level: 'error', msg, obj }),
    child: () => logger,
  };
  const sweeper = new UploadSweeper(() => homes, logger);
  t.after(() => sweeper.stop());
  sweeper.run();
  await sweeper.settled();
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.obj]),
    [
      ['info', 'stale upload temp files removed', { home: homes[7], removed: 1 }],
      ['debug', 'stale upload temp file sweep done', { homes: 50, removed: 1 }],
    ],
  );
});
