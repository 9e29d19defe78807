// `ferry serve --workers 1`: the sessions (each with storages of its own) share the process's upload
// locks, so four sessions APPE to one file at once and all four appends are kept. With --workers 2
// the workers do not share them: an append may be refused (451), but none that got 226 is lost.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { appendAtOnce, assertAppendsKept, LETTERS } from '../support/append-race.js';
import { ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

async function session(r: ServeProcess, user: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login(user, 'pw');
  return ftp;
}

for (const n of [1, 2]) {
  test(
    `ferry serve --workers ${n}: four sessions APPE to one file at once`,
    { timeout: 120_000 },
    async (t) => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-append-'));
      t.after(() => rm(root, { recursive: true, force: true }));
      await writeFile(path.join(root, 'log.txt'), '');
      const users = LETTERS.map((l) => l.toLowerCase());
      const r = await ServeProcess.start(
        ['--workers', String(n), ...users.flatMap((u) => ['--user', `${u}:pw`])],
        root,
      );
      const sessions: RawFtp[] = [];
      try {
        for (const u of users) sessions.push(await session(r, u));
        const replies = await appendAtOnce(sessions, 'log.txt');
        const kept = assertAppendsKept(await readFile(path.join(root, 'log.txt')), replies);
        if (n === 1) assert.deepEqual(kept.sort(), LETTERS, 'one process: every append kept');
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
        await r.stop();
      }
    },
  );
}
