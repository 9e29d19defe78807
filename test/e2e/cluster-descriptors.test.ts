/**
 * A cluster worker out of file descriptors cannot receive the sockets its primary hands it (Node
 * closes them: the client sees EOF). The primary must stop counting those connections: counted
 * for ever as not logged in, they got their address refused (421) and then banned.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { OUT_OF_DESCRIPTORS } from '../../src/server/descriptors.js';
import { testPrimary } from '../support/cluster-primary.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';

/** Each worker's open-files limit: room for its modules as they load, then for some connections. */
const NOFILE = 200;

test('connections a worker had no descriptor for are not counted; once sessions close, the address is served again', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-fds-'));
  let warned!: () => void;
  const outOfDescriptors = new Promise<void>((resolve) => (warned = resolve));
  const p = await testPrimary(
    dir,
    (msg) => msg === OUT_OF_DESCRIPTORS && warned(),
    (real) => real(['prlimit', `--nofile=${NOFILE}:${NOFILE}`]),
    // Only the descriptors limit the held connections (none logs in).
    { maxUnauthenticatedPerAddress: 10_000 },
  );
  const held: RawFtp[] = [];
  try {
    const { explicit } = await p.listen();
    const port = explicit?.port ?? 0;
    let refused: RawFtp | undefined;
    while (!refused && held.length < 4 * NOFILE) {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port, implicit: false });
      try {
        await ftp.expect(220);
        held.push(ftp);
      } catch {
        refused = ftp; // closed before its greeting: neither worker could take it
      }
    }
    assert.ok(refused, `a connection was lost after ${held.length} held`);
    await refused.close();
    await withDeadline(outOfDescriptors, 10_000, 'the primary told of the lost connection');
    assert.equal(p.sessionCount, held.length, 'the lost connection is not counted');
    await Promise.all(held.splice(0).map((f) => f.close()));
    for (let i = 0; i < 500 && p.sessionCount > 0; i++) await delay(20);
    assert.equal(p.sessionCount, 0, 'every session closed and released');
    const again = await RawFtp.connect({ host: '127.0.0.1', port, implicit: false });
    held.push(again);
    await again.expect(220);
  } finally {
    await Promise.all(held.map((f) => f.close()));
    p.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
