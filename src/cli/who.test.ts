import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionActivity } from '../server/session-report.js';
import { doingText } from './who.js';

const retr = (bytesPerSecond: number, sinceProgressSeconds: number): SessionActivity => ({
  command: 'RETR',
  path: '/big20m.bin',
  bytes: 4_215_000,
  bytesPerSecond,
  sinceProgressSeconds,
  direction: 'download',
});

test('ferry who tells a stalled download from a moving one: its rate, and how long nothing moved', () => {
  assert.equal(doingText({ doing: retr(1_258_291, 0) }), 'RETR /big20m.bin 4.02 MiB at 1.20 MiB/s');
  assert.equal(doingText({ doing: retr(0, 660) }), 'RETR /big20m.bin 4.02 MiB at 0 B/s, stalled 11m00s');
  // A few seconds without progress is a slow link's normal (bytes waiting in the kernel's buffers).
  assert.equal(doingText({ doing: retr(300, 4) }), 'RETR /big20m.bin 4.02 MiB at 300 B/s');
});

test('a command without data, and a server that sends no pace (older), show as before', () => {
  const mkd: SessionActivity = {
    command: 'MKD',
    path: '/new',
    bytes: null,
    bytesPerSecond: null,
    sinceProgressSeconds: null,
    direction: null,
  };
  assert.equal(doingText({ doing: mkd }), 'MKD /new');
  const older = { command: 'STOR', path: '/a.bin', bytes: 1000, direction: 'upload' } as SessionActivity;
  assert.equal(doingText({ doing: older }), 'STOR /a.bin 1000 B');
  assert.equal(doingText({ doing: null }), '-');
});
