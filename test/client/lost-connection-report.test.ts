/**
 * A batch or a mirror whose connection is lost for good (here --retry 0: no reconnect; with retries
 * spent the same): the file in flight fails, and the files never tried are said once (`connection
 * lost (…): 4 not transferred`), counted as not transferred in the summary, never a `failed` line
 * each with the same error (a 3,000-file deploy printed 2,831 of them). Exit code: the connection's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

const env = { FERRY_PASSWORD: 'p' };
const NAMES = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt', 'f.txt'];

describe('a connection lost for good during a batch or a mirror', { timeout: 60_000 }, () => {
  let tmp: string;
  let server: FakeFtp;
  let url: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-lost-'));
    // b.txt's RETR closes the control connection (421), every time.
    server = await FakeFtp.start({
      features: ['MLSD', 'SIZE'],
      answer: (verb, arg) => (verb === 'RETR' && /b\.txt$/.test(arg) ? '421 going away' : undefined),
    });
    for (const name of NAMES)
      server.files.set(name, { data: Buffer.from(name), modified: new Date('2024-01-02T03:04:05Z') });
    url = `ftp://u@127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('get of several files: one failure named, the files never tried said once', async () => {
    const d = await mkdtemp(path.join(tmp, 'get-'));
    const r = await ferry(['get', '--allow-plain', '--retry', '0', `${url}/*.txt`, d], env);
    assert.equal(r.code, EXIT.connection, r.stderr);
    assert.equal(await readFile(path.join(d, 'a.txt'), 'utf8'), 'a.txt');
    assert.match(r.stderr, /^ferry: get \/?b\.txt: .*421 going away$/m);
    assert.match(r.stderr, /^ferry: get: connection lost \(.+\): 4 not transferred$/m);
    assert.match(
      r.stderr,
      /^Transferred 1 of 6 file\(s\), 5 B; 1 failed; connection lost: 4 not transferred\.$/m,
    );
    assert.doesNotMatch(r.stderr, /[cdef]\.txt/, 'the files never tried are not named');
  });

  it('mirror --delete: the same, with nothing deleted', async () => {
    const d = await mkdtemp(path.join(tmp, 'mirror-'));
    // Not on the server: --delete would remove it, but a mirror that failed deletes nothing.
    await writeFile(path.join(d, 'extra.txt'), 'kept');
    const r = await ferry(['mirror', '--allow-plain', '--retry', '0', '--delete', `${url}/`, d], env);
    assert.equal(r.code, EXIT.connection, r.stderr);
    assert.equal(await readFile(path.join(d, 'extra.txt'), 'utf8'), 'kept');
    assert.match(r.stderr, /^failed b\.txt: .*421 going away$/m);
    assert.match(r.stderr, /^connection lost \(.+\): 4 not transferred$/m);
    assert.match(
      r.stderr,
      /^Transferred 1 of 6 file\(s\), 5 B; 1 failed; 0 deleted \(deletions held back by the failure\); connection lost: 4 not transferred\.$/m,
    );
    assert.doesNotMatch(r.stderr, /failed [cdef]\.txt/);
  });
});
