import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replyForError } from '../errors.js';
import { connectFailure, connectTimedOut, nobodyConnected } from './connect-failure.js';

const sysError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} 192.0.2.1:50000`), { code, syscall: 'connect' });
const replyText = (err: unknown): string => {
  const { reply } = replyForError(err);
  return `${reply.code} ${reply.lines.join(' ')}`;
};

test('connectFailure: the 425 says why in words, the errno is kept for the log', () => {
  const refused = connectFailure(sysError('ECONNREFUSED'));
  assert.equal(replyText(refused), "425 Can't open data connection: connection refused.");
  assert.equal(refused.errno, 'ECONNREFUSED');
  assert.equal(
    replyText(connectFailure(sysError('EHOSTUNREACH'))),
    "425 Can't open data connection: host unreachable.",
  );
  assert.equal(
    replyText(connectFailure(sysError('ENETUNREACH'))),
    "425 Can't open data connection: network unreachable.",
  );
  // One without words of its own is named as the system names it; one without a code is said plainly.
  assert.equal(replyText(connectFailure(sysError('EPROTO'))), "425 Can't open data connection: EPROTO.");
  assert.equal(
    replyText(connectFailure(new Error('x'))),
    "425 Can't open data connection: connection failed.",
  );
});

test('timeouts: the 425 says how long was waited', () => {
  assert.equal(replyText(connectTimedOut(30_000)), "425 Can't open data connection: timed out after 30 s.");
  assert.equal(connectTimedOut(30_000).errno, 'ETIMEDOUT');
  assert.equal(
    replyText(nobodyConnected(1_500)),
    "425 Can't open data connection: nobody connected to the passive port within 1.5 s.",
  );
  assert.equal(
    replyText(nobodyConnected(250)),
    "425 Can't open data connection: nobody connected to the passive port within 250 ms.",
  );
});
