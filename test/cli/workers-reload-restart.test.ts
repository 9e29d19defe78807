/**
 * `ferry serve --workers 2`: a SIGHUP that comes while a worker is being restarted reaches that
 * worker too. The replacement was given the settings from before the reload, which skipped it (it
 * was not ready): it must take the new ones before it serves anyone.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess, type LogLine } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-reload-restart-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function usersConfig(names: readonly string[]): Promise<string> {
  const users = await Promise.all(
    names.map(
      async (n) => `  - name: ${n}\n    passwordHash: ${await testHash(`pw-${n}`)}\n    home: ${root}\n`,
    ),
  );
  return `users:\n${users.join('')}`;
}

const after_ =
  (r: ServeProcess, from: number, match: (l: LogLine) => boolean) =>
  (l: LogLine): boolean =>
    r.log.indexOf(l) >= from && match(l);

/** The primary's (no worker key) line saying the reload from log index `from` is done. */
const reloadedBy = (r: ServeProcess, from: number) =>
  after_(r, from, (l) => l.worker === undefined && l.msg === 'configuration reloaded');

for (const how of ['SIGKILL', 'SIGTERM'] as const) {
  test(`--workers 2: a SIGHUP while a worker is replaced (${how} to it) reaches the replacement: a user removed cannot log in there`, async () => {
    const config = path.join(dir, `${how}.yaml`);
    await writeFile(config, await usersConfig(['zed', 'amy']));
    const r = await ServeProcess.start(
      ['--workers', '2', '--config', config, '--data-dir', path.join(dir, `data-${how}`)],
      dir,
    );
    const held: RawFtp[] = [];
    let frozen: number | undefined;
    try {
      let worker2 = r.workerPids[1] ?? 0;
      // The replacement is stopped (SIGSTOP) as soon as the primary has forked it, long before it
      // can be ready; should it have been ready all the same, that round does not count: again.
      let replacement = 0;
      for (let attempt = 1; replacement === 0; attempt++) {
        assert.ok(attempt <= 5, 'the replacement was never stopped before it was ready');
        await writeFile(config, await usersConfig(['zed', 'amy']));
        let from = r.log.length;
        r.child.kill('SIGHUP');
        await r.waitForLog(reloadedBy(r, from), 'zed back');

        from = r.log.length;
        process.kill(worker2, how);
        const started = await r.waitForLog(
          after_(r, from, (l) => l.msg === 'worker started' && l.worker === 2),
          'the replacement forked',
        );
        const pid = Number(started.workerPid);
        process.kill(pid, 'SIGSTOP');
        frozen = pid;
        await writeFile(config, await usersConfig(['amy']));
        from = r.log.length;
        r.child.kill('SIGHUP');
        const first = await r.waitForLog(
          after_(
            r,
            from,
            (l) => reloadedBy(r, from)(l) || (l.msg === 'worker ready' && Number(l.workerPid) === pid),
          ),
          'the reload done, or the replacement ready before it',
        );
        process.kill(pid, 'SIGCONT');
        frozen = undefined;
        worker2 = pid;
        if (first.msg === 'worker ready') await r.waitForLog(reloadedBy(r, from), 'that reload done');
        else replacement = pid;
      }
      await r.waitForLog(
        (l) => l.msg === 'worker ready' && Number(l.workerPid) === replacement,
        'the replacement ready',
      );

      // One connection in each worker (the first to the first worker, the next to the idle one).
      for (let i = 0; i < 2; i++) {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
        held.push(ftp);
        await ftp.expect(220);
      }
      const from = r.log.length;
      for (const ftp of held) {
        await ftp.cmd('USER zed', 331);
        assert.match(textOf(await ftp.cmd('PASS pw-zed', 530)), /Login incorrect|530/);
        await ftp.login('amy', 'pw-amy');
      }
      const pids = await r.loginPids('amy', from, 2);
      assert.ok(pids.includes(replacement), `amy served by ${pids.join(', ')}, not ${replacement}`);
    } finally {
      if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
      for (const s of held) await s.close();
      assert.equal(await r.stop(), 0);
    }
  });
}
