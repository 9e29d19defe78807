import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatXferlog } from './xferlog.js';

const record = {
  command: 'STOR',
  direction: 'upload' as const,
  path: '/in box/report 1.pdf',
  offset: 0,
  bytes: 1_048_576,
  ms: 2_400,
  result: 'ok' as const,
  reply: 226,
  at: new Date(2026, 11, 2, 9, 5, 7), // local time, as xferlog writes it
  user: 'alice',
  remoteAddress: '192.0.2.10',
  type: 'I' as const,
  sessionId: 's',
};

test('an upload is one xferlog(5) line: ctime, seconds, host, size, name, type, flag, direction, mode, user, service, auth', () => {
  assert.equal(
    formatXferlog(record),
    'Wed Dec  2 09:05:07 2026 2 192.0.2.10 1048576 /in_box/report_1.pdf b _ i r alice ftp 0 * c',
  );
});

test('a download cut short in ASCII mode: direction o, type a, status i; at least 1 second', () => {
  const line = formatXferlog({
    ...record,
    direction: 'download',
    type: 'A',
    result: 'aborted',
    ms: 20,
    at: new Date(2026, 0, 15, 23, 59, 59),
  });
  assert.equal(
    line,
    'Thu Jan 15 23:59:59 2026 1 192.0.2.10 1048576 /in_box/report_1.pdf a _ o r alice ftp 0 * i',
  );
});

test('an anonymous download: access mode a, and * where vsftpd writes the password (never written)', () => {
  const line = formatXferlog({ ...record, direction: 'download', user: 'anonymous', anonymous: true });
  assert.equal(
    line,
    'Wed Dec  2 09:05:07 2026 2 192.0.2.10 1048576 /in_box/report_1.pdf b _ o a * ftp 0 * c',
  );
});

// The standard format has no field for it (nor have vsftpd's and ProFTPD's lines): a resumed
// transfer's line holds the bytes sent from its offset on, as theirs do; the JSON line has `offset`.
test('a resumed download (REST n): the bytes sent, in the standard fields', () => {
  const line = formatXferlog({ ...record, direction: 'download', offset: 4_477_190_144, bytes: 1000 });
  assert.equal(
    line,
    'Wed Dec  2 09:05:07 2026 2 192.0.2.10 1000 /in_box/report_1.pdf b _ o r alice ftp 0 * c',
  );
});
