/**
 * A server at its open-files limit: a logged-in session's storage commands fail for want of a
 * descriptor (EMFILE). They used to answer `450 Temporarily unavailable` with nothing logged; the
 * reply now says the server is out of open files (451) and the log has the out-of-descriptors
 * warning that PASV and accept give. Through the real file system, under `prlimit`.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openFilesLimit } from '../../src/cli/open-files.js';
import { OUT_OF_DESCRIPTORS } from '../../src/server/descriptors.js';
import { RawFtp } from '../support/raw-ftp.js';
import { ServeProcess } from '../support/ferry-process.js';

const root = process.getuid?.() === 0;
const LIMIT = 200;

let dir: string;
let served: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-emfile-'));
  served = path.join(dir, 'root');
  await mkdir(served);
  await writeFile(path.join(served, 'a.txt'), 'abc');
  await mkdir(path.join(served, 'sub'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

test(
  "at the open-files limit, a session's storage commands answer 451 saying so, and the server logs it",
  { skip: !root && 'needs root to drop CAP_SYS_RESOURCE (else the server raises its hard limit)' },
  async () => {
    const config = path.join(dir, 'ferry.yaml');
    // Idle connections fill the descriptor table; none is refused for its address first.
    await writeFile(config, 'defender:\n  maxUnauthenticatedPerAddress: 1000\n');
    const noCap = ['setpriv', '--inh-caps=-sys_resource', '--bounding-set=-sys_resource'];
    const data = await mkdtemp(path.join(dir, 'data-'));
    const r = await ServeProcess.start(
      [
        '--workers',
        '1',
        '--config',
        config,
        '--data-dir',
        data,
        '--user',
        'alice:secret',
        '--log-level',
        'info',
      ],
      served,
      ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, ...noCap],
    );
    const idle: RawFtp[] = [];
    try {
      const server = r.child.pid ?? 0; // --workers 1: one process, which serves
      assert.equal(openFilesLimit(server).soft, LIMIT);
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
      idle.push(ftp);
      await ftp.expect(220);
      await ftp.login('alice', 'secret');
      assert.equal((await ftp.cmd('SIZE a.txt')).code, 213, 'below the limit: served');
      // Each greeted connection holds one more of the server's descriptors, until none is left.
      while (openFds(server) < LIMIT) {
        const c = await RawFtp.connect({ host: '127.0.0.1', port: r.explicitPort, implicit: false });
        idle.push(c);
        await c.expect(220);
      }
      // Those that open a descriptor (the file, the directory to list); MKD or DELE act through the
      // directory's, already open.
      for (const command of ['SIZE a.txt', 'STAT /sub']) {
        const reply = await ftp.cmd(command);
        assert.deepEqual(
          [reply.code, reply.lines],
          [451, ['Storage temporarily unavailable, try again later: the server is out of open files.']],
          command,
        );
      }
      const line = await r.waitForLog((l) => l.msg === OUT_OF_DESCRIPTORS, 'the warning');
      assert.equal(line.what, 'storage');
      assert.equal(line.command, 'SIZE');
    } finally {
      await Promise.all(idle.map((c) => c.close()));
      assert.equal(await r.stop(), 0);
    }
  },
);
