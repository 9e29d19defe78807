/**
 * Quota usage while usage.json cannot be written (its data directory on a full disk): the count in
 * memory keeps holding uploads to the quota, the write is retried and logged, and once there is
 * room again the file holds every upload. A real full filesystem: a 1 MiB tmpfs (the tests run as
 * root, as CI does).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { storeCode } from '../support/ftps-session.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const KiB = 1024;
const MiB = 1024 * KiB;

let dir: string;
let data: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-quota-full-'));
  data = path.join(dir, 'data');
  await mkdir(data);
  if (isRoot) await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', data]);
});
after(async () => {
  if (isRoot) await run('umount', [data]).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function recorded(): Promise<unknown> {
  const r = await ferryUsers(data, ['show', 'q', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { usage?: unknown }).usage;
}

test(
  'usage.json on a full disk: uploads stay held to the quota by the count in memory; written once there is room',
  { skip: !isRoot, timeout: 120_000 },
  async () => {
    const home = path.join(dir, 'q');
    await mkdir(home);
    const add = await ferryUsers(
      data,
      ['add', 'q', '--home', home, '--quota-size', '10M', '--password-stdin'],
      'qpass\n',
    );
    assert.equal(add.code, 0, add.stderr);
    const server = await ServeProcess.start(['--workers', '2', '--data-dir', data], dir);
    try {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
      await ftp.expect(220);
      await ftp.login('q', 'qpass');
      await ftp.cmd('TYPE I', 200);
      assert.equal(await storeCode(ftp, 'first', 100 * KiB), 226);
      assert.deepEqual(await recorded(), { bytes: 100 * KiB, files: 1 });

      // Fill the data directory's filesystem: usage.json can no longer be replaced.
      await run('dd', ['if=/dev/zero', `of=${path.join(data, 'fill')}`, 'bs=64k']).catch(() => {});
      assert.equal(await storeCode(ftp, 'one', MiB), 226);
      assert.equal(await storeCode(ftp, 'three-a', 3 * MiB), 226);
      assert.equal(await storeCode(ftp, 'three-b', 3 * MiB), 226); // 7.1 MiB
      assert.equal(await storeCode(ftp, 'three-c', 3 * MiB), 552, 'over the 10 MiB quota');
      await server.waitForLog(
        (l) => l.msg === 'quota usage not written yet: retrying' && l.level === 40,
        'the failed write logged',
      );
      assert.deepEqual(await recorded(), { bytes: 100 * KiB, files: 1 }, 'not written meanwhile');

      // Room again: the retry writes every change made meanwhile.
      const from = server.log.length;
      await rm(path.join(data, 'fill'));
      await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && l.msg === 'quota usage written after retries',
        'the retried write',
      );
      const used = { bytes: 100 * KiB + 7 * MiB, files: 4 };
      assert.deepEqual(await recorded(), used);
      assert.deepEqual(JSON.parse(await readFile(path.join(data, 'usage.json'), 'utf8')), {
        users: { q: used },
      });
      assert.equal(await storeCode(ftp, 'three-c', 3 * MiB), 552);
      assert.equal(await storeCode(ftp, 'last', 100 * KiB), 226);
      assert.deepEqual(await recorded(), { bytes: 200 * KiB + 7 * MiB, files: 5 });
      await ftp.close();
    } finally {
      await server.stop();
    }
  },
);

for (const workers of ['1', '2']) {
  test(
    `--workers ${workers}: quota usage the shutdown cannot write (a full disk) is named in a warning`,
    { skip: !isRoot, timeout: 120_000 },
    async () => {
      const user = `stop${workers}`;
      const home = path.join(dir, user);
      await mkdir(home);
      const add = await ferryUsers(
        data,
        ['add', user, '--home', home, '--quota-size', '10M', '--password-stdin'],
        'pw\n',
      );
      assert.equal(add.code, 0, add.stderr);
      const server = await ServeProcess.start(['--workers', workers, '--data-dir', data], dir);
      try {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
        await ftp.expect(220);
        await ftp.login(user, 'pw');
        await ftp.cmd('TYPE I', 200);
        assert.equal(await storeCode(ftp, 'first', KiB), 226); // the usage counted and recorded
        await run('dd', ['if=/dev/zero', `of=${path.join(data, 'fill')}`, 'bs=64k']).catch(() => {});
        assert.equal(await storeCode(ftp, 'second', 100 * KiB), 226);
        await ftp.close();
        assert.equal(await server.stop(), 0);
      } finally {
        await server.stop();
        await rm(path.join(data, 'fill'), { force: true });
      }
      const lost = server.log.find((l) => /^quota usage not written at shutdown/.test(l.msg ?? ''));
      assert.ok(lost, 'a warning at shutdown');
      assert.equal(lost.level, 40);
      assert.deepEqual(lost.users, [user]);
      assert.equal(lost.bytes, 100 * KiB);
      assert.equal(lost.files, 1);
    },
  );
}
