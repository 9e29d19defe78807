import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replyForError, StorageError } from './errors.js';
import { mapFsError } from './storage/fs-errors.js';
import { fitReply } from './protocol/failure-codes.js';
import type { Reply } from './protocol/reply.js';

/** The reply `verb` sends for `err`, as the control connection fits it. */
const replyTo = (verb: string, err: unknown): Reply => fitReply(verb, replyForError(err).reply);

describe('replyForError', () => {
  test('a refused name is 553 where a name is created, 550 for the other commands (RFC 959)', () => {
    const err = new StorageError('name-not-allowed', 'a\\b');
    assert.equal(replyForError(err).reply.code, 553, 'no command: as the error says');
    assert.equal(replyTo('STOR', err).code, 553);
    const other = replyTo('DELE', err);
    assert.deepEqual([other.code, other.lines], [550, ['File name not allowed.']]);
    const mkd = replyTo('MKD', err);
    assert.deepEqual([mkd.code, mkd.lines], [550, ['File name not allowed.']], 'MKD: 550 only');
  });

  test('a refusal STOR may not send as 550 is 553', () => {
    const r = replyTo('STOR', new StorageError('permission-denied', 'EACCES'));
    assert.deepEqual([r.code, r.lines], [553, ['Permission denied.']]);
  });

  test('no room is 550 where RFC 959 allows no 552 (MKD), naming a full disk; 552 elsewhere', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, mkdir'), { code: 'ENOSPC' });
    const full = new StorageError('quota-exceeded', 'mkdir /d: insufficient storage space', {
      cause: enospc,
    });
    const mkd = replyTo('MKD', full);
    assert.deepEqual([mkd.code, mkd.lines], [550, ["No space left on the server's disk."]]);
    const quota = replyTo('MKD', new StorageError('quota-exceeded', 'over quota'));
    assert.deepEqual([quota.code, quota.lines], [550, ['Insufficient storage space.']]);
    const stor = replyTo('STOR', full);
    assert.deepEqual([stor.code, stor.lines], [552, ['Insufficient storage space.']], 'an upload: as before');
  });

  test('a storage call out of descriptors (EMFILE, ENFILE) is 451 saying so, for every command', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const err = mapFsError(
        Object.assign(new Error(`${code}: too many open files`), { code }),
        'open',
        '/d',
      );
      for (const verb of ['RETR', 'STOR', 'LIST', 'SIZE', 'CWD', 'MKD', 'DELE']) {
        const r = replyTo(verb, err);
        assert.deepEqual(
          [r.code, r.lines],
          [451, ['Storage temporarily unavailable, try again later: the server is out of open files.']],
          `${code} ${verb}`,
        );
      }
    }
  });
});

test('each error class names itself, so a stack trace says which it is', async () => {
  const { OptionError } = await import('./server/options.js');
  const { PassiveLimitError, PassiveBusyError } = await import('./server/passive-ports.js');
  const { Ipv6DataModeError } = await import('./client/errors.js');
  const { CertificateError } = await import('./tls/certificates.js');
  const errors = [
    new OptionError('port', 'bad'),
    new PassiveLimitError('too many', 'address'),
    new PassiveBusyError({
      range: '1-2',
      rangeSize: 2,
      pendingFromAddress: 0,
      heldHere: 0,
      heldElsewhere: 0,
      denied: 0,
    }),
    new Ipv6DataModeError('no mode'),
    new CertificateError('certFile', 'bad'),
  ];
  for (const e of errors) {
    assert.equal(e.name, e.constructor.name);
    assert.match(String(e.stack), new RegExp(`^${e.constructor.name}: `));
  }
});
