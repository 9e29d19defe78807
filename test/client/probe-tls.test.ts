/**
 * `ferry probe`'s certificate and renegotiation points against Ferry serving chosen certificates:
 * the chain is counted once per certificate (Node repeats a self-signed one), judged on its own
 * (a wrong name is certificate-name's failure, an expired but trusted certificate is
 * certificate-expiry's), pinning is advised only for an untrusted chain (a leaf sent without its
 * intermediate is an incomplete chain, the server's to fix), a failed name says what
 * the certificate lists, and a refused renegotiation names the server's alert.
 */
import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import * as x509 from '@peculiar/x509';

import type { ProbeTarget } from '../../src/client/probe/connection.js';
import type { ProbeContext } from '../../src/client/probe/context.js';
import { certificate } from '../../src/client/probe/certificate.js';
import { renegotiation, tlsPoints } from '../../src/client/probe/tls.js';
import { point, type ProbePoint } from '../../src/client/probe/types.js';
import { Code } from '../../src/protocol/codes.js';
import { reply } from '../../src/protocol/reply.js';
import { generateSelfSigned, type KeyPair } from '../../src/tls/certificates.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { probeTarget } from '../support/probe.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};
const DAY = 86_400_000;

interface Made {
  readonly cert: string;
  readonly key: string;
  readonly name: string;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly alg: typeof ALG | typeof RSA;
}

/**
 * A server certificate named `name` (a DN), or a CA with `isCa`; self-signed or issued by `ca`; an
 * ECDSA P-256 key, or RSA 2048 with `rsa`; valid from a day ago for 30 days unless `notAfter` says.
 */
async function make(
  name: string,
  o: { sans?: x509.JsonGeneralName[]; ca?: Made; isCa?: boolean; rsa?: boolean; notAfter?: Date } = {},
): Promise<Made> {
  const alg = o.rsa ? RSA : ALG;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notAfter = o.notAfter ?? new Date(Date.now() + 29 * DAY);
  const notBefore = new Date(Math.min(Date.now(), notAfter.getTime()) - DAY);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(o.isCa ?? false, undefined, true)];
  if (o.sans) extensions.push(new x509.SubjectAlternativeNameExtension(o.sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: name,
    issuer: o.ca?.name ?? name,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as unknown as x509.X509CertificateCreateWithKeyParams['publicKey'],
    signingKey: (o.ca?.keys ?? keys)
      .privateKey as unknown as x509.X509CertificateCreateWithKeyParams['signingKey'],
    signingAlgorithm: o.ca?.alg ?? alg,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})(?!$)/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key, name, keys, alg };
}

const LOCAL_SANS: x509.JsonGeneralName[] = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
];

/** Ferry serving `leaves` (one per key type); `ca` is the PEM a probe trusts with --ca. */
async function serve(leaves: readonly KeyPair[], dir: string): Promise<TestServer> {
  const certificates = [];
  for (const leaf of leaves) {
    const certFile = path.join(dir, `${randomBytes(4).toString('hex')}.pem`);
    const keyFile = `${certFile}.key`;
    await writeFile(certFile, leaf.cert);
    await writeFile(keyFile, leaf.key, { mode: 0o600 });
    certificates.push({ certFile, keyFile });
  }
  return startFerry({
    tls: { certificates, dataDir: path.join(dir, 'data') },
    defender: { allow: ['127.0.0.0/8'] },
  });
}

/**
 * A bare implicit FTPS greeter (node:tls, TLS handshake then `220`), with `options` on top: TLS 1.2
 * at most, several certificates, or demanding a client certificate.
 */
async function greeter(options: tls.TlsOptions): Promise<{
  target: (o?: Partial<ProbeTarget>) => ProbeTarget;
  close: () => Promise<void>;
}> {
  const server = tls.createServer(options, (sock) => {
    sock.on('error', () => undefined);
    sock.end('220 greeter\r\n');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: (o = {}) =>
      probeTarget({ explicitPort: port, user: 'alice', password: 'secret' }, { security: 'implicit', ...o }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const CERTIFICATE_IDS = [
  'certificate-chain',
  'certificate-expiry',
  'certificate-name',
  'certificate-key',
  'certificate-signature',
];

/** Expired a day and ten minutes ago. */
const dayAgo = (): Date => new Date(Date.now() - DAY - 600_000);

async function points(t: ProbeTarget): Promise<Record<string, ProbePoint>> {
  return Object.fromEntries((await certificate(t)).map((p) => [p.id, p]));
}

describe('ferry probe: certificate and renegotiation points', { timeout: 120_000 }, () => {
  let dir: string;
  const servers: { close: () => Promise<void> }[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-probe-tls-'));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (...leaves: KeyPair[]): Promise<TestServer> => {
    const s = await serve(leaves, dir);
    servers.push(s);
    return s;
  };

  it("Ferry's own self-signed certificate is one certificate; pinning is advised only when untrusted", async () => {
    const s = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    servers.push(s);
    const ca = await readFile(path.join(path.dirname(s.root), 'tls', 'cert.pem'));
    const trusted = await points(probeTarget(s, { ca }));
    assert.equal(trusted['certificate-chain']?.received, '1 certificate(s) sent; trusted');
    assert.equal(trusted['certificate-chain']?.verdict, 'pass');
    const unknown = await points(probeTarget(s));
    assert.equal(
      unknown['certificate-chain']?.received,
      '1 certificate(s) sent; DEPTH_ZERO_SELF_SIGNED_CERT',
    );
    assert.equal(unknown['certificate-chain']?.verdict, 'fail');
    assert.match(unknown['certificate-chain']?.detail ?? '', /^self-signed; clients must pin it/);
  });

  it('a leaf issued by the trusted CA: one certificate sent, the CA from --ca not counted', async () => {
    const root = await make('CN=Probe Test CA', { isCa: true });
    const s = await start(await make('CN=localhost', { ca: root, sans: LOCAL_SANS }));
    const p = await points(probeTarget(s, { ca: Buffer.from(root.cert) }));
    assert.equal(p['certificate-chain']?.received, '1 certificate(s) sent; trusted');
    assert.equal(p['certificate-chain']?.detail, undefined);
    assert.equal(p['certificate-name']?.verdict, 'pass');
  });

  it('leaf and intermediate: two sent (Node’s chain adds the root); the root sent too is waste', async () => {
    const root = await make('CN=Probe Test CA', { isCa: true });
    const int = await make('CN=Probe Test Int', { isCa: true, ca: root });
    const leaf = await make('CN=localhost', { ca: int, sans: LOCAL_SANS });
    const ca = Buffer.from(root.cert);
    const two = await points(probeTarget(await start({ ...leaf, cert: leaf.cert + int.cert }), { ca }));
    assert.equal(two['certificate-chain']?.received, '2 certificate(s) sent; trusted');
    assert.equal(two['certificate-chain']?.detail, undefined);
    const three = await points(
      probeTarget(await start({ ...leaf, cert: leaf.cert + int.cert + root.cert }), { ca }),
    );
    assert.equal(three['certificate-chain']?.received, '3 certificate(s) sent; trusted');
    assert.equal(three['certificate-chain']?.verdict, 'pass');
    assert.match(
      three['certificate-chain']?.detail ?? '',
      /^the server sends its root certificate \(Probe Test CA\) too: clients never use it, it is \d+ bytes wasted on every handshake$/,
    );
  });

  it('a leaf sent without its intermediate: the chain is incomplete, not a certificate to pin', async () => {
    const root = await make('CN=Probe Test CA', { isCa: true });
    const int = await make('CN=Probe Test Int', { isCa: true, ca: root });
    const leaf = await make('CN=localhost', { ca: int, sans: LOCAL_SANS });
    const ca = Buffer.from(root.cert);
    const alone = await points(probeTarget(await start(leaf), { ca }));
    assert.equal(alone['certificate-chain']?.verdict, 'fail');
    assert.equal(
      alone['certificate-chain']?.received,
      '1 certificate(s) sent; UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
    assert.equal(
      alone['certificate-chain']?.detail,
      'chain incomplete: the server sent no issuer for its certificate (issuer Probe Test Int); it must send its intermediate certificate(s)',
    );
    const full = await points(probeTarget(await start({ ...leaf, cert: leaf.cert + int.cert }), { ca }));
    assert.equal(full['certificate-chain']?.verdict, 'pass', full['certificate-chain']?.received);
  });

  it('a wrong host name fails certificate-name, saying what the certificate lists, not the chain', async () => {
    const leaf = await make('CN=ftp.example', { sans: [{ type: 'dns', value: 'ftp.example' }] });
    const s = await start(leaf);
    const ca = Buffer.from(leaf.cert);
    const byIp = await points(probeTarget(s, { ca }));
    assert.equal(byIp['certificate-chain']?.verdict, 'pass', byIp['certificate-chain']?.received);
    assert.equal(byIp['certificate-chain']?.detail, undefined);
    assert.equal(byIp['certificate-name']?.verdict, 'fail');
    assert.equal(byIp['certificate-name']?.received, '127.0.0.1 does not match');
    assert.equal(byIp['certificate-name']?.detail, 'the certificate lists DNS:ftp.example');
    const byName = await points(probeTarget(s, { ca, servername: 'other.example' }));
    assert.equal(byName['certificate-chain']?.verdict, 'pass', byName['certificate-chain']?.received);
    assert.equal(byName['certificate-name']?.detail, 'the certificate lists DNS:ftp.example');

    const nameless = await make('O=Probe Test');
    const none = await points(probeTarget(await start(nameless), { ca: Buffer.from(nameless.cert) }));
    assert.equal(
      none['certificate-name']?.detail,
      'the certificate lists no names (no subjectAltName, no CN)',
    );
  });

  it('an expired certificate: trusted, the expiry is certificate-expiry; untrusted, pin advice', async () => {
    // Ferry's own kind of certificate (its key usage has no keyCertSign), expired a year ago.
    const from = Date.now() - 400 * DAY;
    const validity = { notBefore: new Date(from), notAfter: new Date(from + 30 * DAY) };
    const leaf = await generateSelfSigned('localhost', 'ecdsa', validity);
    const s = await start(leaf);
    const trusted = await points(probeTarget(s, { ca: Buffer.from(leaf.cert) }));
    assert.equal(trusted['certificate-chain']?.verdict, 'pass', trusted['certificate-chain']?.received);
    assert.equal(trusted['certificate-chain']?.received, '1 certificate(s) sent; trusted');
    assert.match(trusted['certificate-chain']?.detail ?? '', /CERT_HAS_EXPIRED\): see certificate-expiry$/);
    assert.equal(trusted['certificate-expiry']?.verdict, 'fail');
    const untrusted = await points(probeTarget(s));
    assert.equal(untrusted['certificate-chain']?.verdict, 'fail');
    assert.match(untrusted['certificate-chain']?.detail ?? '', /^self-signed; clients must pin it/);
  });

  it('an RSA and an ECDSA certificate: each is judged, by TLS 1.3 signature algorithms and TLS 1.2 suites', async () => {
    const root = await make('CN=Probe Test CA', { isCa: true });
    const expired = await make('CN=localhost', { ca: root, sans: LOCAL_SANS, rsa: true, notAfter: dayAgo() });
    const ec = await make('CN=localhost', { ca: root, sans: LOCAL_SANS });
    const ca = Buffer.from(root.cert);
    // Ferry: TLS 1.3, where signature_algorithms choose; the greeter: TLS 1.2, where the suite does.
    const ferry = await start(expired, ec);
    const tls12 = await greeter({
      maxVersion: 'TLSv1.2',
      cert: [expired.cert, ec.cert],
      key: [expired.key, ec.key],
    });
    servers.push(tls12);
    for (const t of [probeTarget(ferry, { ca }), tls12.target({ ca })]) {
      const list = await certificate(t);
      assert.deepEqual(
        list.map((p) => p.id),
        CERTIFICATE_IDS,
      );
      const p = Object.fromEntries(list.map((x) => [x.id, x]));
      const expiry = p['certificate-expiry'];
      assert.equal(expiry?.verdict, 'fail', expiry?.received);
      assert.match(expiry?.received ?? '', /RSA: .* \(expired 1 day ago\)( \/ |$)/);
      assert.match(expiry?.received ?? '', /ECDSA: .* \(2\d days left\)( \/ |$)/);
      assert.equal(expiry?.detail, 'RSA: outside its validity period');
      assert.match(p['certificate-key']?.received ?? '', /RSA: rsa 2048 bits/);
      assert.match(p['certificate-key']?.received ?? '', /ECDSA: ec prime256v1/);
      assert.equal(p['certificate-key']?.verdict, 'pass');
      const chain = p['certificate-chain'];
      assert.equal(chain?.verdict, 'pass', chain?.received);
      assert.match(chain?.detail ?? '', /^RSA: the certificate itself is outside its validity period/);
    }
  });

  it('an expired CA-issued certificate sent without its issuer: chain incomplete, the expiry apart', async () => {
    const root = await make('CN=Probe Test CA', { isCa: true });
    const s = await start(
      await make('CN=localhost', { ca: root, sans: LOCAL_SANS, rsa: true, notAfter: dayAgo() }),
    );
    const p = await points(probeTarget(s));
    assert.equal(p['certificate-chain']?.verdict, 'fail');
    assert.equal(
      p['certificate-chain']?.detail,
      'chain incomplete: the server sent no issuer for its certificate (issuer Probe Test CA); it must send its intermediate certificate(s)',
    );
    assert.equal(p['certificate-expiry']?.verdict, 'fail');
    assert.match(p['certificate-expiry']?.received ?? '', / \(expired 1 day ago\)$/);
  });

  it('no certificate handshake to be had: the five certificate points, not completed, with why', async () => {
    // A server that demands a client certificate: the probe has none.
    const pair = await generateSelfSigned('localhost', 'ecdsa');
    const g = await greeter({ ...pair, requestCert: true, rejectUnauthorized: true });
    servers.push(g);
    const list = await certificate(g.target());
    assert.deepEqual(
      list.map((p) => [p.id, p.verdict]),
      CERTIFICATE_IDS.map((id) => [id, 'not-completed']),
    );
    for (const p of list)
      assert.match(p.detail ?? '', /^certificate handshake failed: .*certificate required/i);
  });

  it('refused before the TLS checks: every TLS point is not completed, alpn too', async () => {
    const s = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    servers.push(s);
    const t = probeTarget(s);
    t.state.started = true;
    t.state.refused = 'server refused the connection: 421 banned';
    const ctx: ProbeContext = {
      t,
      greeting: reply(Code.ServiceReady, 'ready'),
      features: new Map(),
      sample: undefined,
      writeDir: undefined,
      limits: [],
      protPoint: point('pbsz-prot-p', 'PBSZ 0 / PROT P', '-', '-', 'pass'),
    };
    const judged = (await tlsPoints(ctx)).filter((p) => p.verdict !== 'not-completed');
    assert.deepEqual(
      judged.map((p) => `${p.id}: ${p.verdict}`),
      [],
    );
  });

  it('renegotiation refused with the no_renegotiation alert', async () => {
    const s = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    servers.push(s);
    const p = await renegotiation(probeTarget(s), ['TLSv1.2', 'TLSv1.3']);
    assert.equal(p.verdict, 'pass');
    assert.equal(p.received, 'refused: no_renegotiation alert');
  });
});
