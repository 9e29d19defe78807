/**
 * A node whose PostgreSQL hangs (accepts, never answers: FreezableProxy, test/support/hung-database.ts).
 * Once a query has timed out, nothing waits on the database until probes find it back: a cached
 * login and an upload's charges are served at once (before, each lookup and each 256 KiB charge
 * waited its own 3–5 s timeout: logins took 3.5–10 s, uploads crawled at ~50 KB/s). And a charge
 * the node gave up on, which PostgreSQL ran once it answered again, is counted once: before, the
 * node wrote it again with what it kept (256 KiB over per upload that lived through a hang).
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { FerryError } from '../../src/errors.js';
import { loggedIn, textOf } from '../e2e/harness.js';
import { uploadUnderWay } from '../support/ftps-session.js';
import { FreezableProxy } from '../support/hung-database.js';
import { addUser, startNode, tryLogin, type Node } from '../support/pg-node.js';
import { usePostgres } from '../support/postgres.js';

const KiB = 1024;
let proxy: FreezableProxy;
const fx = usePostgres('f2-hang-', async (pg) => {
  proxy = await FreezableProxy.open(path.join(pg.dir, '.s.PGSQL.5432'));
  return proxy;
});

/** A node reaching the database through the proxy, and its user `name` (quota 100 MiB). */
async function nodeWith(name: string): Promise<{ node: Node; user: { password: string; user: string } }> {
  const node = await startNode(`postgresql://ferry@127.0.0.1:${proxy.port}/${fx.pg.databaseName}`);
  const home = path.join(fx.dir, name);
  await mkdir(home);
  await addUser(node, name, 'pw', home, { quotaSize: 100 * KiB * KiB });
  return { node, user: { user: name, password: 'pw' } };
}

const isAway = (err: unknown): boolean => err instanceof FerryError && err.code === 'ERR_TRANSIENT';

test('the database known away: no query waits on it; a cached login and an upload go through', async () => {
  const { node, user } = await nodeWith('fast');
  await addUser(node, 'never', 'pw', path.join(fx.dir, 'fast'));
  const ftp = await loggedIn({ ...node.ts, ...user }, 'explicit'); // verified: cached for offline logins
  try {
    await ftp.store('warm', Buffer.alloc(1000, 1));
    proxy.freeze();
    // The first query after the hang waits its timeout, and finds the database away.
    await assert.rejects(node.shared.db.query('SELECT 1'), isAway);
    let tried = 0;
    node.shared.db.pool.on('acquire', () => tried++);
    const [, done] = await ftp.store('during', Buffer.alloc(1024 * KiB, 2)); // four charges of 256 KiB
    assert.equal(done.code, 226, textOf(done));
    assert.equal(await tryLogin(node.ts, 'explicit', 'fast', 'pw'), 230);
    assert.equal(await tryLogin(node.ts, 'explicit', 'never', 'pw'), 421);
    assert.equal(tried, 0, 'no query was put to the database known away');
    await proxy.thaw();
    await node.shared.db.back();
    await node.shared.usage.flush();
    assert.deepEqual(await node.shared.usage.get('fast'), { bytes: 1000 + 1024 * KiB, files: 2 });
  } finally {
    await ftp.close();
    await node.close();
  }
});

test('a charge given up on in a hang, and run by PostgreSQL once it answers, counts once', async () => {
  const { node, user } = await nodeWith('once');
  const ftp = await loggedIn({ ...node.ts, ...user }, 'explicit');
  try {
    await ftp.store('warm', Buffer.alloc(1000, 1));
    // The upload's reads and its file's charge are done once the server reads its bytes.
    const conn = await uploadUnderWay(ftp, 'through', Buffer.alloc(100 * KiB, 3));
    proxy.freeze();
    // Its first 256 KiB batch is charged on the hung database: given up on after the timeout.
    await ftp.uploadClean(conn, Buffer.alloc(924 * KiB, 3));
    const done = await ftp.expect();
    assert.equal(done.code, 226, textOf(done));
    assert.ok(node.shared.usage.pending.size > 0, 'what could not be written is kept');
    await proxy.thaw(); // PostgreSQL runs the charge the node gave up on
    await node.shared.db.back();
    await node.shared.usage.flush();
    assert.deepEqual(node.shared.usage.pending, new Map());
    assert.deepEqual(await node.shared.usage.get('once'), { bytes: 1000 + 1024 * KiB, files: 2 });
  } finally {
    await ftp.close();
    await node.close();
  }
});
