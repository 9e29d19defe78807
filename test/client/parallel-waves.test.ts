/**
 * `--parallel N` against a server that limits the connections not yet logged in per address: the
 * extra connections open in waves, each logged in before the next, so none is refused (a refusal
 * is scored: all at once, a large N got the client's own address banned).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry } from './helpers.js';

let ts: TestServer;
let home: string;
before(async () => {
  ts = await startFerry({ limits: { maxUnauthenticatedPerAddress: 4 } });
  home = await mkdtemp(path.join(os.tmpdir(), 'ferry-waves-'));
  await mkdir(path.join(ts.root, 'many'));
  for (let i = 0; i < 12; i++) await writeFile(path.join(ts.root, 'many', `f${i}.txt`), `file ${i}\n`);
});
after(async () => {
  await ts?.close();
  await rm(home, { recursive: true, force: true });
});

test('get --parallel 8 with at most 4 connections not logged in per address: every file, nothing refused', async () => {
  const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
  const env = { HOME: home, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
  const out = path.join(home, 'out');
  await mkdir(out);
  const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/many/*`;
  const r = await ferry(['get', '--fingerprint', pin, '--quiet', '--parallel', '8', url, out], env);
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.equal((await readdir(out)).length, 12);
  assert.doesNotMatch(r.stderr, /MaxListenersExceeded/);
  assert.deepEqual(
    ts.logs.filter((l) => /refused|banned/.test(String(l.msg))).map((l) => l.msg),
    [],
  );
  assert.equal(ts.logs.filter((l) => l.msg === 'login').length, 8);
});
