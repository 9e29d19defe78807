/**
 * The client's LIST and MLSD parsers on real listings (test/fixtures/listings/README.md): every
 * server's output of the same directory must give the same names, types and sizes, including
 * names with spaces, a leading space, quotes, a leading dash and non-ASCII characters.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { parseListText, parseMlsdText, type RemoteEntry } from '../../src/client/client.js';

const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/listings',
);
const NOW = new Date('2026-11-25T12:00:00Z');

const FILES: Readonly<Record<string, number>> = {
  'plain.txt': 5,
  'with space.txt': 1,
  ' leading space.txt': 2,
  'quote"d\'.txt': 3,
  '-leading-dash.txt': 4,
  'ünïcødé-名前.txt': 5,
  'old.txt': 3,
  'big.iso': 5_368_709_243,
};

interface Case {
  readonly file: string;
  readonly kind: 'list' | 'mlsd';
  /** How the symlink `link` → plain.txt shows up (undefined: absent). */
  readonly link?: { type: 'link' | 'file'; target?: string };
  /** old.txt's time as listed, and its precision. */
  readonly old: { iso: string; precisionMs: number };
  /** Unix permission bits are shown. */
  readonly modes: boolean;
}

const listOld = { iso: '2019-05-17T00:00:00.000Z', precisionMs: 86_400_000 };
const exactOld = { iso: '2019-05-17T08:30:00.000Z', precisionMs: 1000 };
const minuteOld = { iso: '2019-05-17T08:30:00.000Z', precisionMs: 60_000 };

const cases: readonly Case[] = [
  {
    file: 'vsftpd-list.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'proftpd-list.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'pure-ftpd-list.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'pyftpdlib-list.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'ferry-list.txt',
    kind: 'list',
    link: { type: 'link', target: '/plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'gnu-ls-l.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: listOld,
    modes: true,
  },
  {
    file: 'gnu-ls-long-iso.txt',
    kind: 'list',
    link: { type: 'link', target: 'plain.txt' },
    old: minuteOld,
    modes: true,
  },
  { file: 'iis-list.txt', kind: 'list', old: minuteOld, modes: false },
  { file: 'iis-4digit-24h-list.txt', kind: 'list', old: minuteOld, modes: false },
  { file: 'proftpd-mlsd.txt', kind: 'mlsd', link: { type: 'link' }, old: exactOld, modes: true },
  { file: 'pure-ftpd-mlsd.txt', kind: 'mlsd', link: { type: 'link' }, old: exactOld, modes: true },
  // pyftpdlib follows the link and reports the target file.
  { file: 'pyftpdlib-mlsd.txt', kind: 'mlsd', link: { type: 'file' }, old: exactOld, modes: false },
  {
    file: 'ferry-mlsd.txt',
    kind: 'mlsd',
    link: { type: 'link', target: '/plain.txt' },
    old: exactOld,
    modes: true,
  },
];

describe('listing parsers on real server output', () => {
  for (const c of cases) {
    it(c.file, () => {
      const text = readFileSync(path.join(FIXTURES, c.file), 'utf8');
      const entries = c.kind === 'list' ? parseListText(text, NOW) : parseMlsdText(text);
      const byName = new Map<string, RemoteEntry>(entries.map((e) => [e.name, e]));
      const expectedNames = [...Object.keys(FILES), 'sub dir', ...(c.link ? ['link'] : [])].sort();
      assert.deepEqual([...byName.keys()].sort(), expectedNames, 'names (no ".", "..", "total")');
      for (const [name, size] of Object.entries(FILES)) {
        assert.equal(byName.get(name)?.type, 'file', name);
        assert.equal(byName.get(name)?.size, size, `size of ${JSON.stringify(name)}`);
      }
      assert.equal(byName.get('sub dir')?.type, 'dir');
      if (c.link) {
        const link = byName.get('link');
        assert.equal(link?.type, c.link.type);
        assert.equal(link?.target, c.link.target);
      }
      const old = byName.get('old.txt');
      assert.equal(old?.modified.toISOString(), c.old.iso);
      assert.equal(old?.modifiedPrecisionMs, c.old.precisionMs);
      const plain = byName.get('plain.txt');
      assert.equal(plain?.modified.getUTCFullYear(), 2026);
      assert.equal(plain?.modified.getUTCMonth(), 10);
      assert.equal(plain?.modified.getUTCDate(), 24);
      if (c.modes) assert.equal(plain?.mode, 0o644);
    });
  }

  it('skips blank lines, "total" and unknown lines', () => {
    const text = 'total 12\r\n\r\nnot a listing line\r\n-rw-r--r-- 1 a b 7 Jan  2  2020 x\r\n';
    assert.deepEqual(
      parseListText(text, NOW).map((e) => [e.name, e.size]),
      [['x', 7]],
    );
  });
});
