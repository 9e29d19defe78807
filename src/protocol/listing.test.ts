import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MLST_FACTS,
  formatListDate,
  formatListLine,
  formatMlstFeat,
  formatMlstOptsReply,
  formatMlsxFacts,
  formatNlstLine,
  formatTimeVal,
  isSelfOrParent,
  parseListLine,
  parseMlstOpts,
  parseMlsxLine,
  parseTimeVal,
  type ListEntry,
} from './listing.js';

const now = new Date(Date.UTC(2026, 10, 30, 12, 0, 0)); // 2026-11-30 12:00 UTC
const recent = new Date(Date.UTC(2026, 10, 24, 14, 52, 0));
const old = new Date(Date.UTC(2024, 10, 24)); // the year form has no time of day

test('formatListLine: dir, recent time, ls -l columns', () => {
  const e: ListEntry = { name: 'docs', type: 'dir', size: 4096, modified: recent, mode: 0o755 };
  assert.equal(formatListLine(e, now), 'drwxr-xr-x 1 ftp ftp          4096 Nov 24 14:52 docs');
});

test('formatListLine: old file shows the year; names verbatim', () => {
  const e: ListEntry = { name: ' -rf my "file".txt', type: 'file', size: 12, modified: old };
  assert.equal(formatListLine(e, now), '-rw-r--r-- 1 ftp ftp            12 Nov 24  2024  -rf my "file".txt');
});

test('formatListLine: symlink with target, special bits, raw st_mode, single-digit day', () => {
  const e: ListEntry = {
    name: 'latest',
    type: 'link',
    size: 7,
    modified: new Date(Date.UTC(2026, 10, 4, 9, 5)),
    target: 'v1.2.3',
  };
  assert.equal(formatListLine(e, now), 'lrwxrwxrwx 1 ftp ftp             7 Nov  4 09:05 latest -> v1.2.3');
  const suid: ListEntry = { name: 'x', type: 'file', size: 0, modified: recent, mode: 0o100000 | 0o4755 };
  assert.match(formatListLine(suid, now), /^-rwsr-xr-x /);
  const sticky: ListEntry = { name: 'tmp', type: 'dir', size: 0, modified: recent, mode: 0o1777 };
  assert.match(formatListLine(sticky, now), /^drwxrwxrwt /);
});

test('formatListLine: newline in a name cannot break the listing', () => {
  const e: ListEntry = { name: 'a\r\nb', type: 'file', size: 1, modified: recent };
  assert.ok(!/[\r\n]/.test(formatListLine(e, now)));
  assert.equal(formatNlstLine(e), 'a??b');
});

test('formatListDate: six-month boundary and future', () => {
  assert.equal(formatListDate(new Date(Date.UTC(2026, 5, 10, 8, 0)), now), 'Jun 10 08:00');
  assert.equal(formatListDate(new Date(Date.UTC(2026, 4, 1, 8, 0)), now), 'May  1  2026');
  assert.equal(formatListDate(new Date(Date.UTC(2027, 0, 1)), now), 'Jan  1  2027');
  assert.equal(formatListDate(new Date(NaN), now), 'Jan  1  1970');
});

test('formatNlstLine is the bare name', () => {
  assert.equal(
    formatNlstLine({ name: 'dir with space', type: 'dir', size: 0, modified: recent }),
    'dir with space',
  );
});

test('time-val format and parse', () => {
  const d = new Date(Date.UTC(2026, 10, 24, 14, 52, 0, 123));
  assert.equal(formatTimeVal(d), '20261124145200');
  assert.equal(formatTimeVal(d, true), '20261124145200.123');
  assert.deepEqual(parseTimeVal('20261124145200.123'), d);
  assert.deepEqual(parseTimeVal('20261124145200'), new Date(Date.UTC(2026, 10, 24, 14, 52)));
  assert.deepEqual(parseTimeVal('20261124145200.5'), new Date(Date.UTC(2026, 10, 24, 14, 52, 0, 500)));
  assert.equal(parseTimeVal('00420101000000')?.getUTCFullYear(), 42, 'not 1942');
  assert.equal(parseTimeVal('00000101000000')?.getUTCFullYear(), 0);
  assert.equal(parseTimeVal('20260230000000'), undefined);
  assert.equal(parseTimeVal('20261324000000'), undefined);
  assert.equal(parseTimeVal('2026112414520'), undefined);
  assert.equal(parseTimeVal('abc'), undefined);
});

test('formatMlsxFacts: file, dir, cdir, link, fact selection', () => {
  const file: ListEntry = { name: 'my file.txt', type: 'file', size: 123, modified: recent, mode: 0o644 };
  assert.equal(
    formatMlsxFacts(file, { facts: DEFAULT_MLST_FACTS, perm: 'adfrw', unique: '801U2' }),
    'type=file;size=123;modify=20261124145200;perm=adfrw;unique=801U2;unix.mode=0644; my file.txt',
  );
  const facts = new Set(['type', 'size', 'modify', 'perm']);
  assert.equal(
    formatMlsxFacts(file, { facts, perm: 'rw' }),
    'type=file;size=123;modify=20261124145200;perm=rw; my file.txt',
  );
  const dir: ListEntry = { name: 'sub', type: 'dir', size: 4096, modified: recent };
  assert.equal(formatMlsxFacts(dir, { facts, perm: 'elc' }), 'type=dir;modify=20261124145200;perm=elc; sub');
  assert.equal(
    formatMlsxFacts({ ...dir, name: '.' }, { facts, perm: 'el', dirKind: 'cdir' }),
    'type=cdir;modify=20261124145200;perm=el; .',
  );
  const link: ListEntry = { name: 'l', type: 'link', size: 3, modified: recent, target: '/a;b' };
  assert.match(formatMlsxFacts(link, { facts: new Set(['type']), perm: '' }), /^type=OS\.unix=symlink; l$/);
  assert.equal(formatMlsxFacts(file, { facts: new Set(), perm: '' }), ' my file.txt');
  assert.equal(
    formatMlsxFacts(file, { facts: new Set(['modify']), perm: '', millis: true }),
    'modify=20261124145200.000; my file.txt',
  );
});

test('MLST FEAT and OPTS', () => {
  assert.equal(formatMlstFeat(DEFAULT_MLST_FACTS), 'type*;size*;modify*;perm*;unique*;unix.mode*;');
  assert.equal(formatMlstFeat(new Set(['type', 'size'])), 'type*;size*;modify;perm;unique;unix.mode;');
  assert.equal(formatMlstFeat(new Set(['type']), ['type', 'size']), 'type*;size;');
  const sel = parseMlstOpts('Size;TYPE;bogus;;');
  assert.deepEqual([...sel], ['type', 'size']);
  assert.equal(formatMlstOptsReply(sel), 'MLST OPTS type;size;');
  assert.deepEqual([...parseMlstOpts('')], []);
  assert.equal(formatMlstOptsReply(parseMlstOpts('')), 'MLST OPTS');
  assert.deepEqual([...parseMlstOpts('type;unique;', ['type', 'size'])], ['type']);
});

test('parseMlsxLine: round trip and facts', () => {
  const file: ListEntry = { name: ' lead space ü.txt', type: 'file', size: 5, modified: recent, mode: 0o600 };
  const line = formatMlsxFacts(file, { facts: DEFAULT_MLST_FACTS, perm: 'r' });
  const e = parseMlsxLine(line);
  assert.ok(e);
  assert.equal(e.name, ' lead space ü.txt');
  assert.equal(e.type, 'file');
  assert.equal(e.size, 5);
  assert.deepEqual(e.modified, recent);
  assert.equal(e.mode, 0o600);
  assert.equal(e.facts['perm'], 'r');
  assert.equal(isSelfOrParent(e), false);
});

test('parseMlsxLine: unix.mode as 600, 0600 or 0o600 (pyftpdlib); anything else is no mode', () => {
  for (const text of ['600', '0600', '0o600', '0O600'])
    assert.equal(parseMlsxLine(`type=file;unix.mode=${text}; k`)?.mode, 0o600, text);
  for (const text of ['0x180', 'rw-------', '', 'o600', '0o'])
    assert.equal(parseMlsxLine(`type=file;unix.mode=${text}; k`)?.mode, undefined, text);
});

test('parseMlsxLine: case-insensitive facts, cdir/pdir, symlinks, sizd', () => {
  const cdir = parseMlsxLine('Type=cdir;Modify=20261124145200;UNIX.mode=0755; /home/bob');
  assert.ok(cdir);
  assert.equal(cdir.type, 'dir');
  assert.equal(cdir.dirKind, 'cdir');
  assert.equal(cdir.mode, 0o755);
  assert.ok(isSelfOrParent(cdir));
  const pdir = parseMlsxLine('type=pdir;perm=el; ..');
  assert.ok(pdir && isSelfOrParent(pdir));
  const slink = parseMlsxLine('type=OS.unix=slink:/etc/target;size=11; link');
  assert.equal(slink?.type, 'link');
  assert.equal(slink?.target, '/etc/target');
  assert.equal(parseMlsxLine('type=OS.unix=symlink; l')?.type, 'link');
  const d = parseMlsxLine('type=dir;sizd=4096; a dir');
  assert.equal(d?.size, 4096);
  assert.equal(d?.name, 'a dir');
  assert.deepEqual(d?.modified, new Date(0));
  assert.equal(parseMlsxLine('type=file;size=1; name\r')?.name, 'name');
});

test('parseMlsxLine: garbage', () => {
  assert.equal(parseMlsxLine('type=file;size=1;'), undefined); // no name
  assert.equal(parseMlsxLine('type=file; '), undefined);
  assert.equal(parseMlsxLine('nofact; name'), undefined);
});

test('parseListLine: Unix ls -l with group, recent time', () => {
  assert.deepEqual(parseListLine('drwxr-xr-x 1 ftp ftp          4096 Nov 24 14:52 docs', now), {
    name: 'docs',
    type: 'dir',
    size: 4096,
    modified: recent,
    mode: 0o755,
  });
});

test('parseListLine: without group column, numeric ids, year form', () => {
  const a = parseListLine('-rw-r--r--   1 bob      12345 Nov 24  2024 report.pdf', now);
  assert.deepEqual(a, { name: 'report.pdf', type: 'file', size: 12345, modified: old, mode: 0o644 });
  const b = parseListLine('-rw-------    1 1000     1000            7 Jan  5 03:04 n', now);
  assert.equal(b?.size, 7);
  assert.deepEqual(b?.modified, new Date(Date.UTC(2026, 0, 5, 3, 4)));
});

test('parseListLine: time in the "future" belongs to the previous year', () => {
  const e = parseListLine('-rw-r--r-- 1 a b 1 Dec 24 10:00 x', now);
  assert.deepEqual(e?.modified, new Date(Date.UTC(2025, 11, 24, 10, 0)));
});

test('parseListLine: names with spaces, leading spaces, leading dash, quotes, UTF-8', () => {
  const e = parseListLine('-rw-r--r-- 1 ftp ftp 3 Nov 24 14:52   -rf "my" fïle 日本.txt', now);
  assert.equal(e?.name, '  -rf "my" fïle 日本.txt');
  const tricky = parseListLine('-rw-r--r-- 1 ftp ftp 3 Nov 24 14:52 a 99 Jan 1 2020 b', now);
  assert.equal(tricky?.name, 'a 99 Jan 1 2020 b');
  assert.equal(tricky?.size, 3);
});

test('parseListLine: round trip of formatListLine', () => {
  const entries: ListEntry[] = [
    { name: 'with space', type: 'file', size: 99999999999, modified: recent, mode: 0o640 },
    { name: 'old dir', type: 'dir', size: 0, modified: old, mode: 0o2750 },
    { name: 'ln', type: 'link', size: 3, modified: recent, mode: 0o777, target: 'a b' },
  ];
  for (const e of entries) assert.deepEqual(parseListLine(formatListLine(e, now), now), e);
});

test('parseListLine: symlinks, devices, ACL markers, long-iso dates', () => {
  const l = parseListLine('lrwxrwxrwx 1 root root 7 Nov 24 14:52 bin -> usr/bin', now);
  assert.equal(l?.type, 'link');
  assert.equal(l?.name, 'bin');
  assert.equal(l?.target, 'usr/bin');
  const dev = parseListLine('crw-rw-rw-   1 root root   1,   3 Nov 24 14:52 null', now);
  assert.equal(dev?.name, 'null');
  assert.equal(dev?.size, 0);
  const acl = parseListLine('drwxr-xr-x+ 2 u g 4096 Nov 24 14:52 shared', now);
  assert.equal(acl?.type, 'dir');
  assert.equal(acl?.name, 'shared');
  const iso = parseListLine('-rw-r--r-- 1 u g 10 2024-11-24 14:52 iso name', now);
  assert.deepEqual(iso?.modified, new Date(Date.UTC(2024, 10, 24, 14, 52)));
  assert.equal(iso?.name, 'iso name');
  const noLinks = parseListLine('-rw-r--r-- owner group 10 Nov 24 14:52 f', now);
  assert.equal(noLinks?.name, 'f');
});

test('parseListLine: skips total, blank and garbage lines', () => {
  assert.equal(parseListLine('total 123', now), undefined);
  assert.equal(parseListLine('', now), undefined);
  assert.equal(parseListLine('hello world', now), undefined);
  assert.equal(parseListLine('-rw-r--r-- 1 a b 1 Foo 24 14:52 x', now), undefined);
  assert.equal(parseListLine('-rw-r--r-- 1 a b 1 Nov 24 25:52 x', now), undefined);
});

test('parseListLine: names holding U+2028, U+2029 or a CR keep their entry', () => {
  for (const name of ['a\u2028b.txt', 'a\u2029b.txt', '\u2028lead', 'c\rr']) {
    assert.equal(parseListLine(`-rw-r--r-- 1 a b 1 Nov 24 14:52 ${name}`, now)?.name, name);
    assert.equal(parseListLine(`-rw-r--r-- 1 a b 1 2024-11-24 14:52 ${name}`, now)?.name, name);
    assert.equal(parseListLine(`11-24-26  02:52PM  12 ${name}`, now)?.name, name);
  }
});

test('parseListLine: . and .. are identifiable', () => {
  const dot = parseListLine('drwxr-xr-x 2 a b 4096 Nov 24 14:52 .', now);
  const dotdot = parseListLine('drwxr-xr-x 2 a b 4096 Nov 24 14:52 ..', now);
  assert.ok(dot && isSelfOrParent(dot));
  assert.ok(dotdot && isSelfOrParent(dotdot));
});

test('parseListLine: MS-DOS / IIS', () => {
  assert.deepEqual(parseListLine('11-24-26  02:52PM       <DIR>          my dir', now), {
    name: 'my dir',
    type: 'dir',
    size: 0,
    modified: recent,
  });
  assert.deepEqual(parseListLine('11-24-2026  02:52PM                12345 file name.txt', now), {
    name: 'file name.txt',
    type: 'file',
    size: 12345,
    modified: recent,
  });
  assert.deepEqual(
    parseListLine('11-24-26  12:05AM  1 midnight', now)?.modified,
    new Date(Date.UTC(2026, 10, 24, 0, 5)),
  );
  assert.deepEqual(
    parseListLine('11-24-98  14:52  1 y2k', now)?.modified,
    new Date(Date.UTC(1998, 10, 24, 14, 52)),
  );
  assert.equal(parseListLine('13-24-26  02:52PM  1 bad', now), undefined);
});
