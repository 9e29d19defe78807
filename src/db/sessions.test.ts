import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../logger.js';
import { unavailable, type Database } from './database.js';
import { PgSessions } from './sessions.js';

// T1: during an outage every login logged 'session limit counted on this node only' at warn (~95
// lines in 33 s); now the first, then one a minute, and one line when the count is shared again.
test('logins counted on this node alone while the database is away: one warning, one when it ends', async () => {
  const warned: string[] = [];
  const logger = { warn: (_o: object, msg: string) => void warned.push(msg) } as unknown as Logger;
  let away = true;
  const db = {
    transaction: async () => {
      if (away) throw unavailable(new Error('timeout exceeded when trying to connect'));
      return true;
    },
    query: async () => ({ rows: [] }),
    onRecover: () => () => {},
  } as unknown as Database;
  const sessions = new PgSessions(db, { logger });
  try {
    for (let i = 0; i < 20; i++) assert.equal(await sessions.take('dora', 100), true);
    assert.deepEqual(warned, ['session limit counted on this node only']);
    away = false;
    assert.equal(await sessions.take('dora', 100), true);
    assert.deepEqual(warned, [
      'session limit counted on this node only',
      'session limits counted across the nodes again',
    ]);
  } finally {
    await sessions.close();
  }
});
