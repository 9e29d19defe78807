/**
 * A change-feed listener that throws does not break the feed: before, the error rejected the poll
 * nobody awaits (an unhandled rejection ends the node) and left it stuck (no change read again).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database, recordChange } from '../../src/db/database.js';
import type { Logger } from '../../src/logger.js';
import { usePostgres } from '../support/postgres.js';

const errors: string[] = [];
const logger = {
  error: (_o: object, msg: string) => void errors.push(msg),
  warn: () => {},
  info: () => {},
  debug: () => {},
} as unknown as Logger;

let db: Database;
usePostgres('f3-listener-', async (pg) => {
  db = await Database.open(pg.url, { logger, pollMs: 60_000 });
  return db;
});

test('a listener that throws is logged; the next changes still reach the listeners', async () => {
  const seen: string[] = [];
  const off = db.onChange('probe', (key) => {
    if (key === 'bad') throw new TypeError('listener bug');
  });
  db.onChange('probe', (key) => void seen.push(key));
  await recordChange(db.pool, 'probe', 'bad');
  await db.sync();
  off();
  await recordChange(db.pool, 'probe', 'good');
  await db.sync();
  assert.ok(seen.includes('bad') && seen.includes('good'), seen.join());
  assert.ok(errors.includes('a database change listener failed'), errors.join());
});
