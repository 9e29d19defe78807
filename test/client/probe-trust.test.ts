/**
 * `ferry probe` sends its password only to a server whose certificate it trusts, as the other
 * commands do: against Ferry's self-signed certificate without --ca it never logs in (no PASS, no
 * login in the server's log), still judges what needs no login, marks the rest n/c and exits 4;
 * with the certificate pinned (--fingerprint) it logs in as with --ca.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { NOT_TRUSTED } from '../../src/client/probe/connection.js';
import type { ProbeReport } from '../../src/client/probe/types.js';
import { issuedBy, testCa } from '../support/client-certs.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { probeCli } from '../support/probe.js';

const verdicts = (r: ProbeReport): Record<string, string> =>
  Object.fromEntries(r.groups.flatMap((g) => g.points).map((p) => [p.id, p.verdict]));

describe('ferry probe and an untrusted certificate', { timeout: 120_000 }, () => {
  let s: TestServer;
  let url: string;
  before(async () => {
    // Allowed: the probes' deliberate TLS failures must not get loopback banned.
    s = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    url = `ftpes://${s.user}@127.0.0.1:${s.explicitPort}/`;
  });
  after(async () => {
    await s?.close();
  });
  const logins = (): number => s.logs.filter((l) => l.msg === 'login').length;
  /** The server presents `pair` from its next connection on. */
  const present = async (pair: { cert: string; key: string }): Promise<void> => {
    await s.server.reloadCertificates({
      pairs: [{ cert: pair.cert, key: pair.key }],
      clientCas: [],
      clientCrls: [],
    });
  };

  it('without --ca: no password sent, the checks that need no login judged, the rest n/c, exit 4', async () => {
    const before = logins();
    const r = await probeCli([url, '--json', '--verbose'], { FERRY_PASSWORD: s.password });
    assert.equal(r.code, 4, r.stderr);
    assert.doesNotMatch(r.stderr, /^> PASS|^< 230/m);
    assert.equal(logins(), before, 'the server saw no login');
    assert.match(r.stderr, /is not trusted \(self-signed.*\n {2}fingerprint: sha256:/);
    assert.match(r.stderr, /--fingerprint/);
    assert.doesNotMatch(r.stderr, /from code/); // the library's option names: not the command's
    const report = JSON.parse(r.stdout) as ProbeReport;
    const v = verdicts(report);
    for (const id of [
      'feat-auth',
      'pbsz-before-auth-refused',
      'user-in-clear-refused',
      'tls-1.2',
      'ciphers-1.3',
      'certificate-name',
      'session-ticket-lifetime',
    ])
      assert.equal(v[id], 'pass', id);
    assert.equal(v['certificate-chain'], 'fail');
    for (const id of [
      'explicit-auth-ssl',
      'pbsz-prot-p',
      'epsv',
      'data-full-handshake-refused',
      'resume-tls13-ticket',
    ])
      assert.equal(v[id], 'not-completed', id);
    assert.deepEqual(report.summary.incomplete, [
      `${NOT_TRUSTED} (self-signed: DEPTH_ZERO_SELF_SIGNED_CERT): give --ca, --fingerprint or --insecure to log in anyway`,
    ]);
  });

  it('with its fingerprint pinned: logs in as with --ca', async () => {
    const fp = new X509Certificate((await testCertificate()).cert).fingerprint256;
    const before = logins();
    const r = await probeCli([url, '--json', '--verbose', '--fingerprint', fp], {
      FERRY_PASSWORD: s.password,
    });
    assert.match(r.stderr, /^> PASS \*{4}$/m);
    assert.ok(logins() > before, 'the server saw logins');
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.equal(report.summary.complete, true, report.summary.incomplete.join('\n'));
    assert.equal(verdicts(report)['epsv'], 'pass');
    assert.equal(r.code, 0, r.stderr);
  });

  it('a pin that does not match: no login either', async () => {
    const r = await probeCli([url, '--json', '--verbose', '--fingerprint', `sha256:${'AB:'.repeat(31)}AB`], {
      FERRY_PASSWORD: s.password,
    });
    assert.equal(r.code, 4, r.stderr);
    assert.doesNotMatch(r.stderr, /^> PASS/m);
    assert.match(r.stderr, /does not match the pinned fingerprint/);
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.deepEqual(report.summary.incomplete, [
      `${NOT_TRUSTED} (not the one pinned): check the --fingerprint given, or give --insecure to log in anyway`,
    ]);
  });

  // The hint names what would answer the cause: no --ca answers a changed known-hosts entry, and a
  // --ca given already was not the right one.
  it('a known-hosts entry that changed, or a --ca that does not vouch for it: a hint for that cause', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-probe-trust-'));
    try {
      const knownHosts = path.join(dir, 'known_hosts');
      await writeFile(knownHosts, `127.0.0.1:${s.explicitPort} sha256:${'AB:'.repeat(31)}AB\n`);
      const changed = await probeCli([url, '--json', '--known-hosts', knownHosts], {
        FERRY_PASSWORD: s.password,
      });
      assert.equal(changed.code, 4, changed.stderr);
      assert.deepEqual((JSON.parse(changed.stdout) as ProbeReport).summary.incomplete, [
        `${NOT_TRUSTED} (not the one recorded in the known-hosts file): if the server really has a new certificate, remove its entry from ${knownHosts}, or give --insecure to log in anyway`,
      ]);

      // A --ca given, but the server's certificate is self-signed (not from that CA) or issued by it
      // for another name (no --ca answers that).
      const ca = await testCa('Ferry probe test CA');
      const caFile = path.join(dir, 'ca.pem');
      await writeFile(caFile, ca.cert);
      const wrongCa = await probeCli([url, '--json', '--ca', caFile], { FERRY_PASSWORD: s.password });
      assert.equal(wrongCa.code, 4, wrongCa.stderr);
      assert.deepEqual((JSON.parse(wrongCa.stdout) as ProbeReport).summary.incomplete, [
        `${NOT_TRUSTED} (self-signed: DEPTH_ZERO_SELF_SIGNED_CERT): the --ca given does not vouch for it: give its CA with --ca, or --fingerprint or --insecure to log in anyway`,
      ]);
      const other = await issuedBy(ca, 'other.example', { serverNames: ['other.example'] });
      await present(other);
      try {
        const wrongName = await probeCli([url, '--json', '--ca', caFile], { FERRY_PASSWORD: s.password });
        assert.equal(wrongName.code, 4, wrongName.stderr);
        assert.deepEqual((JSON.parse(wrongName.stdout) as ProbeReport).summary.incomplete, [
          `${NOT_TRUSTED} (issued for another host name: ERR_TLS_CERT_ALTNAME_INVALID): pin it with --fingerprint if it is the right one, or give --insecure to log in anyway`,
        ]);
      } finally {
        await present(await testCertificate());
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
