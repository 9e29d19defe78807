import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserSessions } from './user-sessions.js';

describe("the primary's count of users' sessions", () => {
  it('counts every worker together, per user; a dead worker’s sessions are forgotten', () => {
    const s = new UserSessions<string>();
    assert.ok(s.take('w1', 'ann', 2));
    assert.ok(s.take('w2', 'ann', 2));
    assert.ok(!s.take('w1', 'ann', 2), 'two in use across workers');
    assert.ok(s.take('w1', 'bob', 1), 'per user');
    s.give('w2', 'ann');
    assert.ok(s.take('w1', 'ann', 2));
    s.forget('w1');
    assert.ok(s.take('w2', 'ann', 1) && s.take('w2', 'bob', 1));
    s.give('w2', 'nobody'); // unknown: no effect, no throw
  });

  it('counts the sessions of a user without a limit against one set later', () => {
    const s = new UserSessions<string>();
    s.add('w1', 'bob');
    s.add('w2', 'bob');
    assert.ok(!s.take('w1', 'bob', 2), 'the two begun without a limit count');
    s.give('w2', 'bob');
    assert.ok(s.take('w1', 'bob', 2));
  });
});
