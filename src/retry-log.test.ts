import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from './logger.js';
import { RetryLog } from './retry-log.js';

function recorder(): { logger: Logger; lines: { msg: string; obj: Record<string, unknown> }[] } {
  const lines: { msg: string; obj: Record<string, unknown> }[] = [];
  const noop = (): void => {};
  const logger: Logger = {
    debug: noop,
    info: noop,
    warn: (obj, msg = '') => lines.push({ msg, obj: obj as Record<string, unknown> }),
    error: noop,
    child: () => logger,
  };
  return { logger, lines };
}

const MESSAGES = { failing: 'not written: retrying', still: 'still not written', done: 'written' };

test('a write retried every second through a 75 s outage: the first failure, one line a minute, one when written', () => {
  const { logger, lines } = recorder();
  let now = 1_000_000;
  const log = new RetryLog(logger, MESSAGES, { now: () => now });
  log.succeeded(); // nothing failed: nothing to say
  for (let s = 0; s < 75; s++, now += 1000) log.failed({ users: ['u'], err: 'down' });
  log.succeeded();
  // It was one line per attempt: 75 here.
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['not written: retrying', 'still not written', 'written'],
  );
  assert.deepEqual(lines[0]?.obj, { users: ['u'], err: 'down' });
  // The minute's line counts the attempts since the first line and says since when.
  assert.deepEqual(lines[1]?.obj, {
    users: ['u'],
    err: 'down',
    failed: 60,
    since: new Date(1_000_000).toISOString(),
  });
  assert.deepEqual(lines[2]?.obj, { failed: 75, ms: 75_000 });

  // Written, then failing again: a new outage starts with its own first line.
  log.succeeded();
  log.failed({ users: ['v'], err: 'down again' });
  now += 59_000;
  log.failed({ users: ['v'], err: 'down again' }); // within the minute: counted only
  log.succeeded();
  assert.deepEqual(
    lines.slice(3).map((l) => [l.msg, l.obj]),
    [
      ['not written: retrying', { users: ['v'], err: 'down again' }],
      ['written', { failed: 2, ms: 59_000 }],
    ],
  );
});

test('a long outage: one line per interval, each counting the attempts since the last', () => {
  const { logger, lines } = recorder();
  let now = 0;
  const log = new RetryLog(logger, MESSAGES, { intervalMs: 10_000, now: () => now });
  for (; now <= 35_000; now += 1000) log.failed({});
  assert.deepEqual(
    lines.map((l) => [l.msg, l.obj.failed]),
    [
      ['not written: retrying', undefined],
      ['still not written', 10],
      ['still not written', 10],
      ['still not written', 10],
    ],
  );
});
