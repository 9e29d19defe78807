/**
 * Names that begin with U+FEFF (a byte order mark, `%EF%BB%BF` in a URL) are names like any other:
 * `ferry rm` and `ferry put` by such a URL touch that name, not the one without the mark (rm
 * deleted `notes.txt` for `%EF%BB%BFnotes.txt`, put created `bom2`), and `ferry mirror` uploads a
 * local `\ufeffnotes.txt` under its own name (it stopped with ENOENT on `notes.txt`).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

const BOM = '\ufeff';

describe('names beginning with a byte order mark', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let base: string;
  let pin: string;
  let env: Record<string, string>;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-bom-names-'));
    base = `ftpes://alice@127.0.0.1:${ts.explicitPort}`;
    pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    env = { HOME: home, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
  });
  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const cli = (args: readonly string[]): Promise<CliResult> =>
    ferry([args[0] ?? '', '--fingerprint', pin, '--quiet', ...args.slice(1)], env);
  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  it('rm and put by a %EF%BB%BF URL touch the name with the mark', async () => {
    const dir = path.join(ts.root, 'pt');
    await mkdir(dir);
    await writeFile(path.join(dir, 'notes.txt'), 'plain\n');
    await writeFile(path.join(dir, `${BOM}notes.txt`), 'marked\n');
    ok(await cli(['rm', `${base}/pt/%EF%BB%BFnotes.txt`]));
    assert.deepEqual(await readdir(dir), ['notes.txt']);
    assert.equal(await readFile(path.join(dir, 'notes.txt'), 'utf8'), 'plain\n');

    const src = path.join(home, 'up.txt');
    await writeFile(src, 'up\n');
    ok(await cli(['put', src, `${base}/pt/%EF%BB%BFbom2`]));
    assert.deepEqual((await readdir(dir)).sort(), ['notes.txt', `${BOM}bom2`]);
  });

  it('mirror uploads a local name with the mark under that name', async () => {
    const src = path.join(home, 'bomsrc');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'a\n');
    await writeFile(path.join(src, `${BOM}notes.txt`), 'marked\n');
    ok(await cli(['mirror', src, `${base}/bomdst`]));
    const dst = path.join(ts.root, 'bomdst');
    assert.deepEqual((await readdir(dst)).sort(), ['a.txt', `${BOM}notes.txt`]);
    assert.equal(await readFile(path.join(dst, `${BOM}notes.txt`), 'utf8'), 'marked\n');
  });
});
