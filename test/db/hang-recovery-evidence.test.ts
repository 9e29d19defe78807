/**
 * A database that flaps (answers once, hangs again: FreezableProxy) is not announced back: the node
 * counts it available again only once PROBES_TO_RECOVER probes in a row found it answering. Before,
 * one good query announced it (listeners resynchronized, pending writes sent into the next hang) and
 * the node flipped at each flap. Each transition is logged once.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Database } from '../../src/db/database.js';
import { FerryError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { FreezableProxy } from '../support/hung-database.js';
import { usePostgres } from '../support/postgres.js';

interface Line {
  msg: string;
  answered?: boolean;
}

const lines: Line[] = [];
const waiting = new Set<() => boolean>();
const note = (o: object, msg = ''): void => {
  lines.push({ ...o, msg });
  for (const w of waiting) w();
};
const logger: Logger = { ...silentLogger, debug: note, warn: note, error: note, child: () => logger };

/** Resolves with the index of the first line from `from` on that `is`, once logged. */
function logged(is: (l: Line) => boolean, from = lines.length): Promise<number> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const i = lines.findIndex((l, n) => n >= from && is(l));
      if (i < 0) return false;
      waiting.delete(check);
      resolve(i);
      return true;
    };
    if (!check()) waiting.add(check);
  });
}

let proxy: FreezableProxy;
const fx = usePostgres('f2-flap-', async (pg) => {
  proxy = await FreezableProxy.open(path.join(pg.dir, '.s.PGSQL.5432'));
  return proxy;
});

const transitions = (): string[] =>
  lines.map((l) => l.msg).filter((m) => m === 'database unavailable' || m === 'database available again');

test('one probe answered, then the hang again: still away; back after two in a row, logged once', async () => {
  const url = `postgresql://ferry@127.0.0.1:${proxy.port}/${fx.pg.databaseName}`;
  const db = await Database.open(url, { logger, probeMs: 100 });
  try {
    proxy.freeze();
    await assert.rejects(
      db.query('SELECT 1'),
      (err) => err instanceof FerryError && err.code === 'ERR_TRANSIENT',
    );
    const answered = logged((l) => l.msg === 'database probe' && l.answered === true);
    await proxy.thaw();
    const at = await answered;
    proxy.freeze(); // before the next probe (100 ms later)
    await logged(
      (l) => (l.msg === 'database probe' && l.answered === false) || l.msg === 'database available again',
      at + 1,
    );
    assert.deepEqual(transitions(), ['database unavailable']);
    assert.equal(db.available, false);
    await proxy.thaw();
    await db.back();
    assert.deepEqual(transitions(), ['database unavailable', 'database available again']);
    assert.deepEqual((await db.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }]);
  } finally {
    await db.close();
  }
});
