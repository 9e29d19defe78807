/**
 * `list(path, { directory: true })` (a mirror's root, a pattern's directory) fails for a file's
 * path even where the server lists the file instead of refusing it: `LIST file` when the login
 * directory is unknown (PWD refused, so no CWD into the path first), an MLSD that lists a file. A
 * directory that holds one file of its own name is still listed: the server is asked what the
 * path is (MLST, else SIZE).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { FerryError } from '../../src/errors.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

const notDirectory = (err: unknown): boolean =>
  err instanceof FerryError && err.code === 'ERR_NOT_DIRECTORY' && /a\.txt is a file/.test(err.message);

describe('list() with directory: a file the server lists is refused', { timeout: 30_000 }, () => {
  const servers: FakeFtp[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  /** A server holding `only` as its one file; `kind` of each path as MLST or SIZE tells it. */
  async function serve(
    only: string,
    kind: Readonly<Record<string, 'file' | 'dir'>>,
    o: FakeFtpOptions,
  ): Promise<FakeFtp> {
    const server = await FakeFtp.start({
      ...o,
      answer: (verb, arg) => {
        if (verb === 'PWD') return '550 PWD not allowed.';
        if (verb === 'MLST' && kind[arg] !== undefined)
          return `250-Listing ${arg}\r\n type=${kind[arg]};size=5; ${arg}\r\n250 End`;
        if (verb === 'SIZE' && kind[arg] === 'dir') return '550 Not a regular file.';
        return undefined;
      },
    });
    servers.push(server);
    server.files.set(only, { data: Buffer.from('hello'), modified: new Date('2024-01-02T03:04:05Z') });
    return server;
  }

  for (const [listing, features] of [
    ['LIST of the path, the home unknown', []],
    ['an MLSD that lists a file', ['MLST type*;size*;modify*;', 'MLSD']],
  ] as const) {
    it(`${listing}: the file is refused, a directory of one same-named file listed`, async () => {
      const file = await serve('a.txt', { 'a.txt': 'file' }, { features });
      const c = await file.connect();
      try {
        assert.equal(c.homeDirectory, undefined);
        await assert.rejects(c.list('a.txt', { directory: true }), notDirectory);
        // Without `directory`, a file's path is its one entry.
        assert.deepEqual(
          (await c.list('a.txt')).map((e) => [e.name, e.type]),
          [['a.txt', 'file']],
        );
      } finally {
        await c.close();
      }
      const dir = await serve('d', { d: 'dir' }, { features });
      const d = await dir.connect();
      try {
        assert.deepEqual(
          (await d.list('d', { directory: true })).map((e) => [e.name, e.type]),
          [['d', 'file']],
        );
      } finally {
        await d.close();
      }
    });
  }
});
