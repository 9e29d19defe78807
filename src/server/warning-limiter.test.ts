import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../logger.js';
import { WarningLimiter } from './warning-limiter.js';

function recorder(): { logger: Logger; lines: { msg: string; obj: object }[] } {
  const lines: { msg: string; obj: object }[] = [];
  const noop = (): void => {};
  const logger: Logger = {
    debug: noop,
    info: noop,
    warn: (obj, msg = '') => lines.push({ msg, obj }),
    error: noop,
    child: () => logger,
  };
  return { logger, lines };
}

test('per address and kind: the first N are written, the rest summarized on dispose', () => {
  const { logger, lines } = recorder();
  const limiter = new WarningLimiter(logger, { perWindow: 2, windowMs: 60_000, maxEntries: 10 });
  for (let i = 0; i < 5; i++) limiter.warn(logger, 'a', { i }, 'probe');
  limiter.warn(logger, 'b', {}, 'probe');
  limiter.warn(logger, 'a', {}, 'other');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['probe', 'probe', 'probe', 'other'],
  );
  limiter.dispose();
  assert.deepEqual(lines.at(-1), {
    msg: 'suppressed 3 similar',
    obj: { remote: 'a', suppressed: 3, warning: 'probe' },
  });
});

test('memory is bounded: past maxEntries the least recently seen address is summarized and forgotten', () => {
  const { logger, lines } = recorder();
  const limiter = new WarningLimiter(logger, { perWindow: 1, windowMs: 60_000, maxEntries: 2 });
  limiter.warn(logger, 'a', {}, 'probe');
  limiter.warn(logger, 'a', {}, 'probe'); // suppressed
  limiter.warn(logger, 'b', {}, 'probe');
  limiter.warn(logger, 'c', {}, 'probe'); // evicts a
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['probe', 'probe', 'suppressed 1 similar', 'probe'],
  );
  limiter.warn(logger, 'a', {}, 'probe'); // a starts over: written again
  assert.equal(lines.at(-1)?.msg, 'probe');
  limiter.dispose();
});
