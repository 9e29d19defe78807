/**
 * `ferry --tofu` as ssh's known_hosts (child processes against Ferry's own server, whose
 * certificate is swapped between runs on the same address, as an impostor or a renewal would): a
 * CA-verified server is recorded, and a certificate no CA vouches for is then refused before the
 * password is sent; first use says why a certificate was not verified; expired and wrong-name
 * certificates are not trusted on first use; a missing home directory is never created for the
 * default file (a local file error instead).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { issuedBy, selfSignedServer, testCa, type TestCert } from '../support/client-certs.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

const DAY = 86_400_000;
const EXPIRED = { notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) };

describe('ferry --tofu: known hosts as ssh keeps them', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let dir: string;
  let ca: TestCert;
  let caFile: string;
  let server: string;
  let url: string;
  let runs = 0;

  before(async () => {
    ts = await startFerry();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-tofu-'));
    ca = await testCa('Ferry test server CA');
    caFile = path.join(dir, 'ca.pem');
    await writeFile(caFile, ca.cert);
    server = `127.0.0.1:${ts.implicitPort}`;
    url = `ftps://${ts.user}@${server}/`;
  });

  after(async () => {
    await ts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The server presents `cert` from its next connection on. */
  const present = async (cert: TestCert): Promise<void> => {
    await ts.server.reloadCertificates({
      pairs: [{ cert: cert.cert, key: cert.key }],
      clientCas: [],
      clientCrls: [],
    });
  };
  const knownHosts = (): string => path.join(dir, `known_hosts-${++runs}`);
  const ls = (kh: string, ...flags: string[]): Promise<CliResult> =>
    ferry(['ls', ...flags, url], { HOME: dir, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: kh });
  const exits = (r: CliResult, code: number): void =>
    assert.equal(r.code, code, `exit ${r.code}\n${r.stderr}`);

  it('records a CA-verified server; a self-signed impostor there is refused before the password goes; a renewal by the CA passes', async () => {
    const kh = knownHosts();
    await present(await issuedBy(ca, 'ftp server', { serverNames: ['127.0.0.1'] }));
    const first = await ls(kh, '--ca', caFile, '--tofu');
    exits(first, EXIT.ok);
    assert.match(first.stderr, new RegExp(`Recorded ${server} as CA-verified`));
    const recorded = await readFile(kh, 'utf8');
    assert.match(recorded, new RegExp(`^${server} ca-verified$`, 'm'));

    const impostor = await selfSignedServer(['127.0.0.1']);
    await present(impostor);
    for (const flags of [['--ca', caFile, '--tofu'], []]) {
      const r = await ls(kh, '--verbose', ...flags);
      exits(r, EXIT.tls);
      assert.match(
        r.stderr,
        /PRESENTED A CERTIFICATE NO CA VOUCHES FOR \(self-signed: DEPTH_ZERO_SELF_SIGNED_CERT\)/,
      );
      assert.match(r.stderr, /impostor/);
      assert.ok(r.stderr.includes(`sha256:${impostor.fingerprint}`), r.stderr);
      assert.doesNotMatch(r.stderr, /^> (USER|PASS)/m);
    }
    assert.equal(await readFile(kh, 'utf8'), recorded);

    await present(await issuedBy(ca, 'ftp server renewed', { serverNames: ['127.0.0.1'] }));
    const renewed = await ls(kh, '--ca', caFile, '--tofu', '--verbose');
    exits(renewed, EXIT.ok);
    assert.match(renewed.stderr, /^> PASS \*+$/m); // --verbose shows what was sent
    assert.equal(await readFile(kh, 'utf8'), recorded);
  });

  it('first use names why the certificate was not verified, and a changed one is refused later', async () => {
    const kh = knownHosts();
    const own = await selfSignedServer(['127.0.0.1']);
    await present(own);
    const first = await ls(kh, '--tofu');
    exits(first, EXIT.ok);
    assert.ok(
      first.stderr.includes(
        `on first use (self-signed: DEPTH_ZERO_SELF_SIGNED_CERT; sha256:${own.fingerprint}); recorded in ${kh}`,
      ),
      first.stderr,
    );
    assert.match(await readFile(kh, 'utf8'), new RegExp(`^${server} sha256:${own.fingerprint}$`, 'm'));
    exits(await ls(kh), EXIT.ok);

    await present(await selfSignedServer(['127.0.0.1']));
    const changed = await ls(kh, '--tofu');
    exits(changed, EXIT.tls);
    assert.match(changed.stderr, /HAS CHANGED/);
  });

  it('never creates a missing home for the default file: a local file error (exit 7) naming it and the way out', async () => {
    await present(await selfSignedServer(['127.0.0.1']));
    // A system account's HOME=/nonexistent; the file would be HOME/.config/ferry/known_hosts.
    const home = path.join(dir, 'nonexistent');
    const r = await ferry(['ls', '--tofu', url], { HOME: home, FERRY_PASSWORD: ts.password });
    exits(r, EXIT.local);
    const file = path.join(home, '.config', 'ferry', 'known_hosts');
    assert.ok(
      r.stderr.includes(
        `Cannot write the known-hosts file ${file}: the home directory ${home} does not exist.\n  Choose another with --known-hosts FILE or FERRY_KNOWN_HOSTS`,
      ),
      r.stderr,
    );
    assert.ok(!existsSync(home), 'the home was not created');

    // Below an existing home, the missing directories are made.
    await mkdir(home);
    exits(await ferry(['ls', '--tofu', url], { HOME: home, FERRY_PASSWORD: ts.password }), EXIT.ok);
    assert.match(await readFile(file, 'utf8'), new RegExp(`^${server} sha256:`, 'm'));
  });

  const refusedOnFirstUse: [string, () => Promise<TestCert>, string[], RegExp][] = [
    [
      'an expired certificate from the CA',
      () => issuedBy(ca, 'old', { ...EXPIRED, serverNames: ['127.0.0.1'] }),
      ['--ca', 'CA'],
      /expired: CERT_HAS_EXPIRED/,
    ],
    [
      'an expired self-signed certificate',
      () => selfSignedServer(['127.0.0.1'], EXPIRED),
      [],
      /expired: CERT_HAS_EXPIRED/,
    ],
    [
      'a certificate the CA issued for another name',
      () => issuedBy(ca, 'elsewhere', { serverNames: ['ftp.example.org'] }),
      ['--ca', 'CA'],
      /issued for another host name: ERR_TLS_CERT_ALTNAME_INVALID/,
    ],
  ];
  for (const [what, make, flags, reason] of refusedOnFirstUse) {
    it(`does not trust ${what} on first use, and says why`, async () => {
      const kh = knownHosts();
      await present(await make());
      const r = await ls(kh, '--tofu', ...flags.map((f) => (f === 'CA' ? caFile : f)));
      exits(r, EXIT.tls);
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /--tofu trusts only/);
      assert.equal(existsSync(kh), false);
      exits(await ls(kh, '--insecure', '--quiet'), EXIT.ok);
    });
  }
});
