/**
 * `ferry quote` (defect 11 of issue 7): REIN and CCC run through the client's own methods, and the
 * commands ferry sends itself are refused with the ferry command or flag to use, never with a
 * library method name. Against Ferry's server (it implements REIN on both ports and, when allowed,
 * CCC), over explicit and implicit FTPS.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

describe('ferry quote', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let env: Record<string, string>;
  let common: string[];
  let explicit: string;
  let implicit: string;

  before(async () => {
    ts = await startFerry({ allowCcc: true });
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-quote-'));
    const ca = path.join(home, 'ca.pem');
    await writeFile(ca, (await testCertificate()).cert);
    env = { HOME: home, FERRY_PASSWORD: ts.password };
    common = ['--ca', ca, '--quiet'];
    explicit = `ftpes://${ts.user}@localhost:${ts.explicitPort}/`;
    implicit = `ftps://${ts.user}@localhost:${ts.implicitPort}/`;
  });

  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  for (const [mode, url] of [
    ['explicit', () => explicit],
    ['implicit', () => implicit],
  ] as const) {
    it(`REIN (${mode}): the server starts over, ferry negotiates TLS and logs in again`, async () => {
      const r = await ferry(['quote', ...common, '-v', url(), 'REIN'], env);
      ok(r);
      assert.match(r.stdout, /^220 /);
      const after = r.stderr.slice(r.stderr.indexOf('> REIN'));
      assert.match(after, /TLS established/);
      assert.match(after, /> USER alice[\s\S]*< 230 /);
    });
  }

  it('CCC (explicit): the control connection continues in clear', async () => {
    const r = await ferry(['quote', ...common, '-v', explicit, 'CCC'], env);
    ok(r);
    assert.match(r.stdout, /^200 /);
    assert.match(r.stderr, /Control connection in clear \(CCC\)/);
  });

  it('CCC on ftps:// is refused before connecting, naming ftpes://', async () => {
    const r = await ferry(['quote', ...common, implicit, 'CCC'], env);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.match(r.stderr, /ftpes:\/\//);
  });

  const refusals: readonly [string[], RegExp][] = [
    [['LIST'], /ferry ls/],
    [['MLSD', 'dir'], /ferry ls/],
    [['RETR', 'f.txt'], /ferry get or ferry cat/],
    [['STOR', 'f.txt'], /ferry put/],
    [['APPE', 'f.txt'], /--append/],
    [['PROT', 'C'], /--prot c/],
    [['AUTH', 'SSL'], /--auth ssl/],
    [['USER', 'bob'], /URL/],
    [['ABOR'], /Ctrl-C/],
    [['REIN', 'now'], /takes no arguments/],
  ];
  for (const [words, advice] of refusals) {
    it(`quote ${words.join(' ')} names the ferry command or flag to use`, async () => {
      const r = await ferry(['quote', ...common, explicit, ...words], env);
      assert.equal(r.code, EXIT.usage, r.stderr);
      assert.match(r.stderr, advice);
      // Library speak (method names, option names) has no place in the command line's messages.
      assert.doesNotMatch(r.stderr, /\(\)|dataProtection|AbortSignal/);
    });
  }
});
