/**
 * `ferry serve` on an address it cannot listen on: one line naming the address, the port and the
 * listener, and a non-zero exit (1, as for a port another program holds), not Node's bare error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FERRY_MAIN as main } from '../support/ferry-process.js';
import { freePort } from '../support/ports.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-refused-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('an address no interface has: one line naming it, exit 1', async () => {
  // TEST-NET-3 (RFC 5737): documentation only, on no interface.
  const absent = '203.0.113.77';
  const here = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  assert.ok(!here.includes(absent), `${absent} is not an address of this machine`);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      main,
      'serve',
      '--allow-root',
      '--listen',
      absent,
      '--implicit-port',
      String(port),
      '--explicit-port',
      '0',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.resume();
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1, err);
  assert.match(
    err,
    new RegExp(
      `^ferry: Cannot listen on 203\\.0\\.113\\.77 port ${port} \\(implicit FTPS\\): no interface of this machine has that address \\(EADDRNOTAVAIL\\)\\.\n$`,
      'm',
    ),
  );
  assert.doesNotMatch(err, /^Error|at .*\.js:\d+/m, 'no stack trace');
});
