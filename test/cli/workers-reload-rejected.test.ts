/**
 * `ferry serve --workers 2`: a SIGHUP the primary rejects (the file does not validate) changes
 * nothing in the workers, and they do not say otherwise: no "certificates reloaded" beside the
 * primary's "configuration reload failed".
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess, type LogLine } from '../support/ferry-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-reload-rejected-'));
  await mkdir(path.join(dir, 'root'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('--workers 2: a rejected SIGHUP makes no worker log "certificates reloaded"; the good one next does, once', async () => {
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(config, 'maxSessionsPerAddress: 10\n');
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--user', 'a:pw-a', '--data-dir', path.join(dir, 'data')],
    path.join(dir, 'root'),
  );
  try {
    const since = (from: number, match: (l: LogLine) => boolean) => (l: LogLine) =>
      r.log.indexOf(l) >= from && match(l);
    const from = r.log.length;
    await writeFile(config, 'maxSessionsPerAddress: many\n');
    r.child.kill('SIGHUP');
    await r.waitForLog(
      since(
        from,
        (l) =>
          l.worker === undefined &&
          l.msg === 'configuration reload failed; the running configuration is kept',
      ),
      'the primary rejects the file',
    );
    // A good reload next: each worker's line for it comes after whatever it logged for the first.
    await writeFile(config, 'maxSessionsPerAddress: 9\n');
    const next = r.log.length;
    r.child.kill('SIGHUP');
    for (const worker of [1, 2]) {
      const done = await r.waitForLog(
        since(next, (l) => l.worker === worker && l.msg === 'configuration reloaded'),
        `worker ${worker} reloads the good file`,
      );
      // Its lines come in order: the good reload's "certificates reloaded" is its only one.
      const said = r.log
        .slice(from, r.log.indexOf(done))
        .filter((l) => l.worker === worker && l.msg === 'certificates reloaded');
      assert.equal(said.length, 1, said.map((l) => JSON.stringify(l)).join('\n'));
    }
  } finally {
    assert.equal(await r.stop(), 0);
  }
});
