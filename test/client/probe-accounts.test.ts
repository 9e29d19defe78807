/**
 * `ferry probe` against Ferry accounts with limits of their own: one limited to a single session
 * (only the check that needs two sessions is not completed; the login is not "refused"), one that
 * needs a pinned client certificate (`--cert`/`--key` log it in; without them the refused login
 * hints at them), and one that may upload but not delete (`--write` names the files it left, on
 * standard error and in the JSON).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { generateSelfSigned } from '../../src/tls/certificates.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { probeCli } from '../support/probe.js';
import { testUsers } from '../support/test-hashes.js';

describe('ferry probe and per-account limits', { timeout: 240_000 }, () => {
  let dir: string;
  let s: TestServer;
  let url: (user: string) => string;
  let certFile: string;
  let keyFile: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-probe-accounts-'));
    for (const d of ['one', 'dave', 'inbox/in']) await mkdir(path.join(dir, d), { recursive: true });
    const dave = await generateSelfSigned('dave', 'ecdsa');
    certFile = path.join(dir, 'dave.crt');
    keyFile = path.join(dir, 'dave.key');
    await writeFile(certFile, dave.cert);
    await writeFile(keyFile, dave.key);
    const users = await testUsers([
      { username: 'one', password: 'pw', home: path.join(dir, 'one'), maxSessions: 1 },
      {
        username: 'dave',
        password: 'pw',
        home: path.join(dir, 'dave'),
        clientCerts: [new X509Certificate(dave.cert).fingerprint256],
      },
      {
        username: 'inbox',
        password: 'pw',
        home: path.join(dir, 'inbox'),
        permissions: { '/': ['list'], '/in': ['list', 'upload'] },
      },
    ]);
    // Loopback allowed: the probe's deliberate TLS failures (and dave's refused login) must not ban it.
    s = await startFerry({ authenticator: users, defender: { allow: ['127.0.0.0/8'] } });
    url = (user) => `ftpes://${user}:pw@127.0.0.1:${s.explicitPort}/`;
  });
  after(async () => {
    await s?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('one session only: only the two-session check is not completed, not a refused login (exit 3)', async () => {
    const r = await probeCli([url('one'), '--json', '--insecure']);
    const report = JSON.parse(r.stdout) as ProbeReport;
    const nc = report.groups.flatMap((g) => g.points).filter((p) => p.verdict === 'not-completed');
    assert.deepEqual(
      nc.map((p) => p.id),
      ['data-other-session-refused'],
      nc.map((p) => `${p.id}: ${p.detail ?? ''}`).join('\n'),
    );
    assert.match(nc[0]?.detail ?? '', /^another session refused: 421 /);
    assert.equal(r.code, 3, r.stderr);
  });

  it('a pinned client certificate: --cert/--key log in; without them, a hint', async () => {
    const without = await probeCli([url('dave'), '--json', '--insecure']);
    assert.equal(without.code, 5, without.stderr);
    assert.match(without.stderr, /login refused: 530 .*give --cert and --key/);
    // The reply's sentence ends before the hint begins its own (not `incorrect.; if …`).
    assert.doesNotMatch(without.stderr, /\.; /);
    const r = await probeCli([url('dave'), '--json', '--insecure', '--cert', certFile, '--key', keyFile]);
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.deepEqual(report.summary.incomplete, []);
    assert.equal(r.code, 0, r.stderr);
  });

  it('--write where files cannot be deleted: the files left are named (stderr, JSON)', async () => {
    const r = await probeCli([url('inbox'), '--json', '--insecure', '--write', 'in']);
    const report = JSON.parse(r.stdout) as ProbeReport;
    const onDisk = (await readdir(path.join(dir, 'inbox/in'))).filter((n) => n.startsWith('ferry-probe-'));
    assert.notEqual(onDisk.length, 0, 'the server refused every DELE: files are left');
    assert.equal(report.write?.cleanedUp, false);
    assert.deepEqual([...(report.write?.left ?? [])].sort(), onDisk.map((n) => `in/${n}`).sort());
    for (const n of onDisk) assert.ok(r.stderr.includes(`in/${n}`), r.stderr);
  });
});
