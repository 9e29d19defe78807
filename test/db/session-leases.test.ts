/**
 * The session leases in PostgreSQL (real, test/support/postgres.ts): the rows a dead node left are
 * deleted by the live nodes as they renew theirs, in bounded steps, once their lease ended long
 * enough ago that no node cut off from the database meanwhile can still be renewing them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/db/database.js';
import { PgSessions, PURGE_BATCH } from '../../src/db/sessions.js';
import { usePostgres } from '../support/postgres.js';

let db: Database;
usePostgres('ferry-leases-', async (pg) => (db = await Database.open(pg.url)));

/** `n` rows of a node killed long ago, their leases ended `ago` (an SQL interval) ago. */
async function leftBy(node: string, n: number, ago: string): Promise<void> {
  await db.query(
    `INSERT INTO ferry_sessions (id, node, username, expires)
     SELECT $1 || ':' || i, $1, 'u', clock_timestamp() - $3::interval FROM generate_series(1, $2) i`,
    [node, n, ago],
  );
}

async function rowsOf(node: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM ferry_sessions WHERE node = $1', [
    node,
  ]);
  return Number(rows[0]?.n);
}

test('a renewal deletes the rows of leases that ended over an hour ago, and only those', async () => {
  const live = new PgSessions(db, { leaseMs: 600_000 });
  try {
    assert.equal(await live.take('u', 10), true);
    await leftBy('killed', 3, '2 hours');
    await leftBy('cut-off', 2, '10 minutes'); // a node away from the database: it may come back
    await live.renew();
    assert.equal(await rowsOf('killed'), 0, 'the dead node’s rows are gone');
    assert.equal(await rowsOf('cut-off'), 2, 'recently ended leases are kept');
    assert.equal(await rowsOf(live.node), 1, 'the live session stays');
  } finally {
    await live.close();
    await db.query('DELETE FROM ferry_sessions');
  }
});

test('a table grown by many crashes is emptied in bounded steps', async () => {
  const live = new PgSessions(db, { leaseMs: 600_000 });
  try {
    await leftBy('crashes', PURGE_BATCH + 7, '1 day');
    await live.renew();
    assert.equal(await rowsOf('crashes'), 7, `one renewal deletes ${PURGE_BATCH} rows`);
    await live.renew();
    assert.equal(await rowsOf('crashes'), 0, 'the next the rest');
  } finally {
    await live.close();
    await db.query('DELETE FROM ferry_sessions');
  }
});

test('a node whose rows were purged while it was cut off puts them back at its next renewal', async () => {
  const node = new PgSessions(db, { leaseMs: 600_000 });
  try {
    assert.equal(await node.take('u', 2), true);
    assert.equal(await node.take('u', 2), true);
    // What the other nodes' purge does to a node away from the database for over an hour.
    await db.query('DELETE FROM ferry_sessions WHERE node = $1', [node.node]);
    await node.renew();
    assert.equal(await rowsOf(node.node), 2, 'both running sessions count again');
    const other = new PgSessions(db, { leaseMs: 600_000 });
    try {
      assert.equal(await other.take('u', 2), false, 'so another node refuses a third session');
    } finally {
      await other.close();
    }
  } finally {
    await node.close();
    await db.query('DELETE FROM ferry_sessions');
  }
});

test('a session given back while the database was away is not renewed', async () => {
  const node = new PgSessions(db, { leaseMs: 600_000 });
  try {
    assert.equal(await node.take('u', 5), true);
    assert.equal(await node.take('u', 5), true);
    const ids = await db.query<{ id: string }>('SELECT id FROM ferry_sessions WHERE node = $1 ORDER BY id', [
      node.node,
    ]);
    node.give('u');
    const given = ids.rows[0]?.id;
    while ((await db.query('SELECT 1 FROM ferry_sessions WHERE id = $1', [given])).rowCount !== 0);
    // Its DELETE lost (the database away): the row is still there, as after an outage.
    await db.query(
      `INSERT INTO ferry_sessions (id, node, username, expires) VALUES ($1, $2, 'u', clock_timestamp())
       ON CONFLICT (id) DO NOTHING`,
      [given, node.node],
    );
    await node.renew();
    const { rows } = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM ferry_sessions WHERE node = $1 AND expires > clock_timestamp()',
      [node.node],
    );
    assert.equal(Number(rows[0]?.n), 1, 'only the running session counts');
  } finally {
    await node.close();
    await db.query('DELETE FROM ferry_sessions');
  }
});
