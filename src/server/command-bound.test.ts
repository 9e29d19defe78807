import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { boundCommand } from './command-bound.js';

test('a command without progress expires once its period has passed, and only once', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let expired = 0;
    boundCommand(
      1000,
      () => undefined,
      () => expired++,
    );
    mock.timers.tick(999);
    assert.equal(expired, 0);
    mock.timers.tick(1);
    assert.equal(expired, 1);
    mock.timers.tick(5000);
    assert.equal(expired, 1);
  } finally {
    mock.timers.reset();
  }
});

test('progress within a period grants another one; a period without it expires; a finished command never does', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let bytes = 0;
    let expired = 0;
    boundCommand(
      1000,
      () => bytes,
      () => expired++,
    );
    bytes = 10;
    mock.timers.tick(1000);
    bytes = 20;
    mock.timers.tick(1000);
    assert.equal(expired, 0);
    mock.timers.tick(1000);
    assert.equal(expired, 1);
    const done = boundCommand(
      1000,
      () => undefined,
      () => expired++,
    );
    done();
    mock.timers.tick(2000);
    assert.equal(expired, 1);
  } finally {
    mock.timers.reset();
  }
});

test('a read that starts after the command (undefined, then 0) and never moves gets one period, not two', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let started = false;
    let expired = 0;
    boundCommand(
      1000,
      () => (started ? 0 : undefined),
      () => expired++,
    );
    started = true; // runLocal started (HASH's openRead), nothing read
    mock.timers.tick(1000);
    assert.equal(expired, 1);
  } finally {
    mock.timers.reset();
  }
});
