import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { maySetHardLimits, openFilesLimit, openFilesNeeded } from '../../src/cli/open-files.js';
import { RawFtp } from '../support/raw-ftp.js';
import { FERRY_MAIN, ServeProcess } from '../support/ferry-process.js';

// The server is started under `prlimit` (util-linux) with a low limit, as a shell or a service
// manager would start it, and its limit is read back from /proc/PID/limits.
const root = process.getuid?.() === 0;
// Root in a container may lack CAP_SYS_RESOURCE; the server is then in the case of the third test.
const capable = maySetHardLimits();

let dir: string;
let served: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-nofile-'));
  served = path.join(dir, 'root');
  await mkdir(served);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configWith(maxSessions: number): Promise<string> {
  const file = path.join(dir, `max-${maxSessions}.yaml`);
  await writeFile(file, `maxSessions: ${maxSessions}\n`);
  return file;
}

async function serveUnder(wrapper: string[], args: string[]): Promise<ServeProcess> {
  const data = await mkdtemp(path.join(dir, 'data-'));
  return ServeProcess.start(
    [...args, '--data-dir', data, '--user', 'alice:secret', '--log-level', 'info'],
    served,
    wrapper,
  );
}

/** A client logs in: the server serves whatever its limit. */
async function logsIn(r: ServeProcess): Promise<void> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.login('alice', 'secret');
  } finally {
    await ftp.close();
  }
}

test('ferry serve raises its soft open-files limit to the hard limit', async () => {
  const config = await configWith(100); // needs less than the hard limit: only the soft one moves
  const r = await serveUnder(['prlimit', '--nofile=1024:4096'], ['--workers', '1', '--config', config]);
  try {
    assert.deepEqual(openFilesLimit(r.child.pid ?? 0), { soft: 4096, hard: 4096 });
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

test(
  'with CAP_SYS_RESOURCE (root), ferry serve raises a hard open-files limit below what maxSessions needs, in the primary and every worker',
  { skip: !capable && 'needs CAP_SYS_RESOURCE (root; this container may drop it)' },
  async () => {
    const config = await configWith(3000);
    const needed = openFilesNeeded(3000);
    assert.ok(needed > 2048);
    const r = await serveUnder(['prlimit', '--nofile=1024:2048'], ['--workers', '2', '--config', config]);
    try {
      assert.equal(r.workerPids.length, 2, r.banner);
      for (const pid of [r.child.pid ?? 0, ...r.workerPids])
        assert.deepEqual(openFilesLimit(pid), { soft: needed, hard: needed }, `pid ${pid}`);
      const line = await r.waitForLog((l) => l.msg === 'open-files limit raised', 'the raise logged');
      assert.deepEqual(line.to, { soft: needed, hard: needed });
      await logsIn(r);
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  'without CAP_SYS_RESOURCE, a hard limit below what maxSessions needs is reported with the sessions it allows, and the server serves',
  { skip: !root && 'needs root to drop the capability' },
  async () => {
    const config = await configWith(3000);
    const noCap = ['setpriv', '--inh-caps=-sys_resource', '--bounding-set=-sys_resource'];
    const r = await serveUnder(
      ['prlimit', '--nofile=1024:2048', ...noCap],
      ['--workers', '1', '--config', config],
    );
    try {
      assert.deepEqual(openFilesLimit(r.child.pid ?? 0), { soft: 2048, hard: 2048 });
      const warning = await r.waitForLog(
        (l) => typeof l.msg === 'string' && l.msg.startsWith('the open-files limit is below'),
        'the warning',
      );
      assert.equal(warning.openFiles, 2048);
      assert.equal(warning.maxSessions, 3000);
      assert.equal(warning.sessionsSure, Math.floor((2048 - 256) / 5));
      await logsIn(r);
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test('a limit too low to load Ferry: one line saying so and the limit, exit 1 (was the module loader stack)', () => {
  // Node raises the soft limit to the hard one itself; the loader opens the server's modules many
  // at once, which 22 descriptors cannot hold. The server is a few bundled files (serve-bundle.ts)
  // since, which 25 descriptors held (40 did not hold its ~310 modules); below 20, Node fails
  // before Ferry runs.
  const r = spawnSync(
    'prlimit',
    [
      '--nofile=22:22',
      process.execPath,
      FERRY_MAIN,
      'serve',
      '--data-dir',
      path.join(dir, 'low'),
      '--user',
      'a:b',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr,
    'ferry: too many open files (EMFILE) while loading Ferry: the open-files limit (22, hard limit 22) is too low; raise it (ulimit -n, systemd LimitNOFILE=)\n',
  );
});
