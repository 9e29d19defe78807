/**
 * Database.transaction on a real PostgreSQL (test/support/postgres.ts): an error of the callback's
 * own logic rolls back and propagates as it is, the pool's client released for the next use; only
 * what the driver raised about the connection says the database is away.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/db/database.js';
import { FerryError } from '../../src/errors.js';
import { usePostgres } from '../support/postgres.js';

let db: Database;
usePostgres('f1-txerr-', async (pg) => {
  db = await Database.open(pg.url, { poolSize: 1 });
  await db.query('CREATE TABLE tx_probe (n int PRIMARY KEY)');
  return db;
});

async function count(): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM tx_probe');
  return Number(rows[0]?.n);
}

for (const [what, own] of [
  ['a TypeError', new TypeError('x.y is not a function')],
  ['a FerryError', new FerryError('ERR_INVALID_OPTION', 'the callback refused')],
  ['an Error without a code', new Error('plain')],
  // The callback's own I/O: a system code is no database being away when the driver did not raise it.
  ['an Error with a system code', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })],
] as const) {
  test(`${what} thrown by the callback is rethrown as it is, rolled back, the client released`, async () => {
    const before = db.pool.totalCount;
    await assert.rejects(
      db.transaction(async (c) => {
        await c.query('INSERT INTO tx_probe (n) VALUES (1)');
        throw own;
      }),
      (err) => err === own,
    );
    assert.equal(await count(), 0, 'the insert was rolled back');
    assert.equal(db.available, true, 'the database is not taken for away');
    assert.equal(db.pool.totalCount, before, 'the client went back to the pool, not destroyed');
    assert.equal(db.pool.idleCount, db.pool.totalCount, 'and is idle again');
    // With one connection in the pool, this works only if the client was released.
    assert.equal(await db.transaction(async (c) => (await c.query('SELECT 1 AS one')).rows.length), 1);
  });
}

test("a call the driver refuses (no query, a parameter it cannot send) is the caller's error, not the database away", async () => {
  const circular: { self?: unknown } = {};
  circular.self = circular;
  for (const bad of [
    (c: { query: (q: unknown, v?: unknown[]) => Promise<unknown> }) => c.query(null),
    (c: { query: (q: unknown, v?: unknown[]) => Promise<unknown> }) => c.query('SELECT $1::text', [circular]),
  ]) {
    await assert.rejects(
      db.transaction((c) => bad(c as unknown as { query: (q: unknown, v?: unknown[]) => Promise<unknown> })),
      (err) => err instanceof TypeError,
    );
    assert.equal(db.available, true, 'the database is not taken for away');
  }
  assert.equal(await db.transaction(async (c) => (await c.query('SELECT 1 AS one')).rows.length), 1);
});

test('a query the database refuses is rethrown as it is (its SQLSTATE), not as the database away', async () => {
  await db.query('INSERT INTO tx_probe (n) VALUES (7)');
  try {
    await assert.rejects(
      db.transaction((c) => c.query('INSERT INTO tx_probe (n) VALUES (7)')),
      (err: { code?: string }) => err.code === '23505',
    );
    assert.equal(db.available, true);
  } finally {
    await db.query('DELETE FROM tx_probe');
  }
});

test('the connection cut under the callback is the database away (ERR_TRANSIENT)', async () => {
  await assert.rejects(
    db.transaction(async (c) => {
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Ends this connection from the server's side, as a restart would.
      await c.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await c.query('SELECT 1');
    }),
    (err) => err instanceof FerryError && err.code === 'ERR_TRANSIENT',
  );
  assert.equal(db.available, false);
  // Back once its probes found it (the broken client was dropped, not reused).
  await db.back();
  assert.equal(await count(), 0);
  assert.equal(db.available, true);
});
