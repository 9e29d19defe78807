/**
 * Cut-upload records in PostgreSQL are bounded per user and in size (a real PostgreSQL 15, see
 * test/support/postgres.ts): one user's cuts push out only that user's oldest rows, a row's size
 * does not grow with the path's, and rows written before paths were digests are still honoured.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { Database } from '../../src/db/database.js';
import { PgCutUploads } from '../../src/db/cut-uploads.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { CutUploads, cutKey, type FileVersion } from '../../src/server/cut-uploads.js';
import { usePostgres } from '../support/postgres.js';

const OLD: FileVersion = { id: '1:2', size: 300, modified: 1000 };
const at = (v: FileVersion) => () => Promise.resolve(v);

describe('cut-upload records in PostgreSQL: bounds', () => {
  const fx = usePostgres('ferry-pg-cut-bounds-');

  test('one user’s cuts beyond the per-user bound push out only that user’s oldest rows', async () => {
    const db = await Database.open(fx.pg.url);
    let now = Date.now();
    // No file: the database alone refuses (another node's view).
    const o = { now: () => now++, max: 10, maxPerUser: 3, shared: new PgCutUploads(db) };
    const node = new CutUploads(undefined, o);
    const other = new CutUploads(undefined, o);
    try {
      await node.remember(cutKey('bob', '/report.bin'), OLD);
      for (let i = 0; i <= 10; i++) await node.remember(cutKey('eve', `/f${i}`), OLD);
      assert.equal(await other.isCut(cutKey('bob', '/report.bin'), at(OLD)), true, 'bob’s row stands');
      assert.equal(await other.isCut(cutKey('eve', '/f7'), at(OLD)), false, 'eve’s oldest went');
      assert.equal(await other.isCut(cutKey('eve', '/f10'), at(OLD)), true);
      const { rows } = await db.query<{ username: string; n: string }>(
        'SELECT username, count(*) AS n FROM ferry_cut_uploads GROUP BY username ORDER BY username',
      );
      assert.deepEqual(
        rows.map((r) => [r.username, Number(r.n)]),
        [
          ['bob', 1],
          ['eve', 3],
        ],
      );
      const long = `/${Array.from({ length: 18 }, () => 'd'.repeat(200)).join('/')}/f`;
      await node.remember(cutKey('eve', long), OLD);
      const { rows: sizes } = await db.query<{ n: number }>(
        'SELECT max(octet_length(path)) AS n FROM ferry_cut_uploads',
      );
      assert.equal(sizes[0]?.n, 64, 'a 3.6 KB path is held as its digest');
    } finally {
      await db.close();
    }
  });

  test('a row written before paths were digests (schema 3) is honoured once migrated', async () => {
    const admin = new pg.Client({ connectionString: fx.pg.url });
    await admin.connect();
    await admin.query('CREATE DATABASE legacy');
    await admin.end();
    const url = fx.pg.urlOf('legacy');
    const old = new pg.Client({ connectionString: url });
    await old.connect();
    try {
      // The schema as a Ferry of schema 3 left it, with a row it wrote (the full path).
      await old.query('CREATE TABLE ferry_schema (version integer PRIMARY KEY, name text NOT NULL)');
      for (const m of MIGRATIONS.filter((m) => m.version <= 3)) {
        await old.query(m.sql);
        await old.query('INSERT INTO ferry_schema (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await old.query(
        `SELECT * FROM ferry_cut_put('u', '/dir/old.bin', '1:2', 300, 1000, $1, 'old', 0, 2000)`,
        [Date.now()],
      );
    } finally {
      await old.end();
    }
    const db = await Database.open(url); // migrates to the latest
    try {
      const cuts = new CutUploads(undefined, { shared: new PgCutUploads(db) });
      assert.equal(await cuts.isCut(cutKey('u', '/dir/old.bin'), at(OLD)), true);
      assert.equal(await cuts.isCut(cutKey('v', '/dir/old.bin'), at(OLD)), false, 'another user’s');
      assert.equal((await cuts.remember(cutKey('u', '/dir/old.bin'), OLD)).stood, true);
    } finally {
      await db.close();
    }
  });
});
