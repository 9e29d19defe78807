/**
 * A 10,000-entry directory over explicit and implicit FTPS: LIST and MLSD stream it in batches,
 * and every entry arrives once, with its own size, type and identity, in CRLF lines; a symlink
 * leading out of the root is listed as a link that names nothing outside.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseListLine, parseMlsxLine } from '../../src/protocol/listing.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { loggedIn, MODES, useFerry, withClients } from './harness.js';

const COUNT = 10_000;
/** Entry i: a name (every 100th in UTF-8) and a size of its own. */
const nameOf = (i: number): string =>
  i % 100 === 0 ? `ü-日本-${i}` : `entry-${String(i).padStart(5, '0')}.txt`;
const sizeOf = (i: number): number => i % 97;

function lines(text: string): string[] {
  assert.ok(text.endsWith('\r\n'), 'listing lines end with CRLF');
  const out = text.slice(0, -2).split('\r\n');
  for (const l of out)
    assert.ok(!l.includes('\n') && !l.includes('\r'), `a bare CR or LF in ${JSON.stringify(l)}`);
  return out;
}

/** The listing of /many under TYPE `type`, parsed: name → entry, each once, all of them. */
async function listing<E extends { name: string }>(
  ftp: RawFtp,
  verb: 'LIST' | 'MLSD',
  type: 'A' | 'I',
  parse: (line: string) => E | undefined,
): Promise<Map<string, E>> {
  await ftp.cmd(`TYPE ${type}`, 200);
  const out = new Map<string, E>();
  for (const l of lines(await ftp.listing(verb, 'many'))) {
    const e = parse(l);
    assert.ok(e, `unparsable ${verb} line ${JSON.stringify(l)}`);
    assert.ok(!out.has(e.name), `listed twice: ${e.name}`);
    out.set(e.name, e);
  }
  assert.equal(out.size, COUNT + 3, 'the files, sub/ and two links');
  return out;
}

for (const mode of MODES) {
  describe(`large listings (${mode})`, { timeout: 300_000 }, () => {
    const server = useFerry();
    let outside = '';
    before(async () => {
      outside = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-outside-'));
      await writeFile(path.join(outside, 'secret-outside.txt'), 'secret');
      const dir = path.join(server().root, 'many');
      await mkdir(dir);
      for (let i = 0; i < COUNT; i += 500) {
        const part: Promise<void>[] = [];
        for (let j = i; j < i + 500; j++)
          part.push(writeFile(path.join(dir, nameOf(j)), 'x'.repeat(sizeOf(j))));
        await Promise.all(part);
      }
      await mkdir(path.join(dir, 'sub'));
      await symlink(outside, path.join(dir, 'escape'));
      await symlink(path.join(dir, nameOf(1)), path.join(dir, 'inside-link'));
    });
    after(() => rm(outside, { recursive: true, force: true }));

    test('LIST of 10,000 entries (TYPE A): every entry once, sizes right, the escaping link names nothing', async () => {
      await withClients(async (track) => {
        const got = await listing(track(await loggedIn(server(), mode)), 'LIST', 'A', (l) =>
          parseListLine(l),
        );
        for (let i = 0; i < COUNT; i++) {
          const e = got.get(nameOf(i));
          assert.equal(e?.type, 'file', nameOf(i));
          assert.equal(e.size, sizeOf(i), nameOf(i));
        }
        assert.equal(got.get('sub')?.type, 'dir');
        assert.equal(got.get('escape')?.type, 'link');
        assert.equal(got.get('escape')?.target, undefined, 'a link out of the root shows no target');
        assert.equal(got.get('inside-link')?.target, `/many/${nameOf(1)}`);
        assert.ok(!got.has('secret-outside.txt'));
      });
    });

    test('MLSD of 10,000 entries: every entry once, with its size and a unique fact of its own', async () => {
      await withClients(async (track) => {
        const got = await listing(track(await loggedIn(server(), mode)), 'MLSD', 'I', parseMlsxLine);
        const unique = new Set<string>();
        for (let i = 0; i < COUNT; i++) {
          const e = got.get(nameOf(i));
          assert.equal(e?.facts['type'], 'file', nameOf(i));
          assert.equal(e.size, sizeOf(i), nameOf(i));
          assert.match(e.facts['modify'] ?? '', /^\d{14}$/);
          assert.equal(e.facts['perm'], 'rwadf');
          unique.add(e.facts['unique'] ?? '');
        }
        assert.equal(unique.size, COUNT, 'each file has its own unique fact');
        assert.equal(got.get('sub')?.facts['type'], 'dir');
        assert.equal(
          got.get('escape')?.facts['type'],
          'OS.unix=symlink',
          'a link out of the root shows no target',
        );
        assert.equal(got.get('inside-link')?.facts['type'], `OS.unix=slink:/many/${nameOf(1)}`);
      });
    });
  });
}
