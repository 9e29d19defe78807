/**
 * Client-certificate login (mutual TLS, issue 9) over explicit and implicit FTPS: pinned
 * fingerprints and CA-issued certificates (CN = user name), the three certLogin modes, refusals
 * with the wrong-password reply, re-evaluation after REIN, users without certificates unaffected.
 * OpenSSL's path validation (path length, name constraints, critical extensions, CA certificates
 * as a user's), the CA names in the CertificateRequest, and revocation by CRL.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { CertificateStore } from '../../src/tls/certificates.js';
import { clientCrlWarnings } from '../../src/tls/client-crl.js';
import { runProcess } from '../support/clients.js';
import { RawFtp, textOf, withDeadline, type ClientCertificatePem } from '../support/raw-ftp.js';
import type { TestServer } from '../support/ferry.js';
import {
  certDir,
  crlOf,
  issuedBy,
  permittedSubtree,
  selfSignedClient,
  testCa,
  unknownCriticalExtension,
  type TestCert,
} from '../support/client-certs.js';
import { certificateFiles, MODES, portOf, useFerry, waitForLog, withClients, type Mode } from './harness.js';
import { testHash } from '../support/test-hashes.js';

const DAY = 86_400_000;

interface Certs {
  pinned: TestCert;
  other: TestCert;
  expiredPinned: TestCert;
  ca: TestCert;
  carol: TestCert;
  carolExpired: TestCert;
  carolOtherCa: TestCert;
  mallory: TestCert;
  intermediate: TestCert;
  carolViaIntermediate: TestCert;
}

async function makeCerts(): Promise<Certs> {
  const ca = await testCa('Ferry test client CA');
  const otherCa = await testCa('Some other CA');
  const intermediate = await issuedBy(ca, 'Ferry test intermediate', { asCa: true });
  return {
    pinned: await selfSignedClient('pinned laptop'),
    other: await selfSignedClient('someone else'),
    expiredPinned: await selfSignedClient('old laptop', {
      notBefore: new Date(Date.now() - 60 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
    ca,
    carol: await issuedBy(ca, 'carol'),
    carolExpired: await issuedBy(ca, 'carol', {
      notBefore: new Date(Date.now() - 60 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
    carolOtherCa: await issuedBy(otherCa, 'carol'),
    mallory: await issuedBy(ca, 'mallory'),
    intermediate,
    carolViaIntermediate: await issuedBy(intermediate, 'carol'),
  };
}

/** Each connection from its own loopback address: the log keeps only 5 failed logins per address and minute. */
let connections = 0;
const nextAddress = (): string => `127.0.${Math.floor(++connections / 250) + 1}.${(connections % 250) + 2}`;

async function connect(
  ts: TestServer,
  mode: Mode,
  cert?: ClientCertificatePem,
  localAddress = nextAddress(),
): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: ts.host,
    localAddress,
    port: portOf(ts, mode),
    implicit: mode === 'implicit',
    ...(cert && { clientCertificate: { cert: cert.cert, key: cert.key } }),
  });
  await ftp.expect(220);
  if (mode === 'explicit') assert.equal((await ftp.authTls('TLS')).code, 234);
  return ftp;
}

/** USER, then PASS if asked: the final reply code (232/230 logged in, 530 refused). */
async function login(ftp: RawFtp, user: string, password = 'pw'): Promise<number> {
  const r = await ftp.cmd(`USER ${user}`);
  if (r.code !== 331) return r.code;
  return (await ftp.cmd(`PASS ${password}`)).code;
}

/** The reason the server logged for the latest failed login of `user` (after `from`). */
async function failureReason(ts: TestServer, user: string, from: number): Promise<string> {
  const line = await waitForLog(
    ts,
    (l) => l.msg === 'login failed' && (l.obj as { user?: string }).user === user,
    from,
  );
  return String((line.obj as { reason?: string }).reason);
}

let certs: Certs;
let files: Awaited<ReturnType<typeof certDir>>;
before(async () => {
  certs = await makeCerts();
  files = await certDir({ 'ca.pem': certs.ca.cert });
});
after(async () => files.cleanup());

for (const mode of MODES) {
  describe(`${mode}: client-certificate login`, { timeout: 60_000 }, () => {
    let table: UserTable;
    let serverTls: Awaited<ReturnType<typeof certificateFiles>>;
    before(async () => {
      serverTls = await certificateFiles();
      const passwordHash = await testHash('pw');
      const home = files.path('home');
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, 'hello.txt'), 'hello\n');
      const user = (username: string, extra: object) => ({ username, passwordHash, home, ...extra });
      table = new UserTable([
        user('pin', { clientCerts: [certs.pinned.fingerprint], certLogin: 'cert-only' }),
        // Pinned in lower-case plain hex: compared case-insensitively, colons or not.
        user('both', { clientCerts: [certs.pinned.fingerprint.replace(/:/g, '').toLowerCase()] }),
        user('either', { clientCerts: [certs.pinned.fingerprint], certLogin: 'cert-or-password' }),
        user('old', { clientCerts: [certs.expiredPinned.fingerprint], certLogin: 'cert-only' }),
        user('carol', { certLogin: 'cert-only' }),
        user('single', { clientCerts: [certs.pinned.fingerprint], certLogin: 'cert-only', maxSessions: 1 }),
        user('plain', {}),
      ]);
    });
    after(async () => serverTls.cleanup());
    const server = useFerry(() => ({
      authenticator: table,
      tls: { ...serverTls.tls, clientCaFiles: [files.path('ca.pem')] },
      // Many refusals from one address are the point here, not a ban.
      defender: { enabled: false },
    }));

    test('a pinned certificate logs a cert-only user in at USER (232); data connections work', async () => {
      await withClients(async (track) => {
        // From the address the test's data connections come from (they must match the control's).
        const ftp = track(await connect(server(), mode, certs.pinned, '127.0.0.1'));
        const from = server().logs.length;
        const r = await ftp.cmd('USER pin', 232);
        assert.match(textOf(r), /authorized by security data exchange/);
        // The login line says which certificate (written before the reply).
        const login = server()
          .logs.slice(from)
          .find((l) => l.msg === 'login');
        assert.deepEqual(login?.obj && { ...login.obj, session: undefined }, {
          session: undefined,
          remote: '127.0.0.1',
          user: 'pin',
          by: 'certificate',
          fingerprint: certs.pinned.fingerprint,
          subject: new X509Certificate(certs.pinned.cert).subject.split('\n').join(', '),
        });
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/"/);
        if (mode === 'explicit') {
          await ftp.cmd('PBSZ 0', 200);
          await ftp.cmd('PROT P', 200);
        }
        await ftp.cmd('TYPE I', 200);
        // The data connection resumes the control session, which carries the client certificate.
        assert.equal((await ftp.retrieve('hello.txt')).toString(), 'hello\n');
        await ftp.cmd('PASS whatever', 202);
        await ftp.quit();
      });
    });

    test('cert-only: a wrong, expired or missing certificate gets the wrong-password reply', async () => {
      await withClients(async (track) => {
        const ts = server();
        const wrongPassword = track(await connect(ts, mode));
        await wrongPassword.cmd('USER plain', 331);
        const reference = textOf(await wrongPassword.cmd('PASS nope', 530));
        const cases: [string, TestCert | undefined, RegExp][] = [
          ['pin', certs.other, /not pinned for this user/],
          ['pin', undefined, /no client certificate presented/],
          ['old', certs.expiredPinned, /client certificate expired/],
        ];
        for (const [user, cert, reason] of cases) {
          const ftp = track(await connect(ts, mode, cert));
          await ftp.cmd(`USER ${user}`, 331); // as for any name: nothing to enumerate
          const from = ts.logs.length;
          const r = await ftp.cmd('PASS pw', 530);
          assert.equal(textOf(r), reference, user);
          assert.match(await failureReason(ts, user, from), reason);
        }
      });
    });

    test('a right certificate over maxSessions: 421 at USER, saying so (the certificate was checked)', async () => {
      await withClients(async (track) => {
        const ts = server();
        const first = track(await connect(ts, mode, certs.pinned));
        await first.cmd('USER single', 232);
        const second = track(await connect(ts, mode, certs.pinned));
        const from = ts.logs.length;
        const r = await second.cmd('USER single', 421);
        assert.equal(textOf(r), 'Too many sessions for this user (at most 1), try later.');
        const line = await waitForLog(ts, (l) => l.msg === 'login refused', from);
        assert.equal((line.obj as { reason?: string }).reason, 'too many sessions (maxSessions 1)');
        await first.quit();
      });
    });

    test('cert-and-password (the default for a pin): both are needed', async () => {
      await withClients(async (track) => {
        const ts = server();
        assert.equal(await login(track(await connect(ts, mode, certs.pinned)), 'both', 'pw'), 230);
        assert.equal(await login(track(await connect(ts, mode, certs.pinned)), 'both', 'bad'), 530);
        let from = ts.logs.length;
        assert.equal(await login(track(await connect(ts, mode)), 'both', 'pw'), 530);
        assert.match(
          await failureReason(ts, 'both', from),
          /password right, but a certificate is required: no client/,
        );
        from = ts.logs.length;
        assert.equal(await login(track(await connect(ts, mode, certs.other)), 'both', 'pw'), 530);
        assert.match(await failureReason(ts, 'both', from), /not pinned/);
      });
    });

    test('cert-or-password: the certificate replaces the password, which still works alone', async () => {
      await withClients(async (track) => {
        const ts = server();
        assert.equal(await login(track(await connect(ts, mode, certs.pinned)), 'either'), 232);
        assert.equal(await login(track(await connect(ts, mode)), 'either', 'pw'), 230);
        assert.equal(await login(track(await connect(ts, mode, certs.other)), 'either', 'pw'), 230);
        assert.equal(await login(track(await connect(ts, mode)), 'either', 'bad'), 530);
      });
    });

    test('a CA-issued certificate logs in the user its CN names; expired, other CA, other CN refused', async () => {
      await withClients(async (track) => {
        const ts = server();
        assert.equal(await login(track(await connect(ts, mode, certs.carol)), 'carol'), 232);
        assert.equal(await login(track(await connect(ts, mode, certs.carolViaIntermediate)), 'carol'), 232);
        const cases: [TestCert, RegExp][] = [
          [certs.carolExpired, /expired/],
          [certs.carolOtherCa, /not issued by a configured client CA/],
          [certs.mallory, /CN "mallory" is not the user name/],
          // A CA certificate only vouches for users whose account asks for it: not for `pin`.
          [certs.ca, /it is a CA certificate itself/],
        ];
        for (const [cert, reason] of cases) {
          const from = ts.logs.length;
          assert.equal(await login(track(await connect(ts, mode, cert)), 'carol'), 530);
          assert.match(await failureReason(ts, 'carol', from), reason);
        }
        // The CA does not open accounts that pin their certificates.
        assert.equal(await login(track(await connect(ts, mode, certs.carol)), 'pin'), 530);
      });
    });

    test('users without certificates are unaffected, with or without one presented', async () => {
      await withClients(async (track) => {
        const ts = server();
        assert.equal(await login(track(await connect(ts, mode)), 'plain'), 230);
        assert.equal(await login(track(await connect(ts, mode, certs.pinned)), 'plain'), 230);
        assert.equal(await login(track(await connect(ts, mode, certs.carol)), 'plain', 'bad'), 530);
      });
    });

    test('after REIN the certificate of the new TLS session counts', async () => {
      await withClients(async (track) => {
        const ftp = track(await connect(server(), mode, certs.pinned));
        await ftp.cmd('USER pin', 232);
        /** REIN, then a new TLS session presenting `cert` (none: undefined). */
        const reinWith = async (cert: TestCert | undefined): Promise<void> => {
          ftp.clientCertificate = cert && { cert: cert.cert, key: cert.key };
          await ftp.cmd('REIN', 220);
          await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
          await ftp.stopTls();
          if (mode === 'implicit') {
            await ftp.startTls();
            await ftp.expect(220);
          } else {
            assert.equal((await ftp.authTls('TLS')).code, 234);
          }
        };
        await reinWith(undefined);
        await ftp.cmd('USER pin', 331);
        await ftp.cmd('PASS pw', 530);
        // And back: a new session with the certificate logs in again.
        await reinWith(certs.pinned);
        await ftp.cmd('USER pin', 232);
      });
    });
  });
}

test('a client CA file that is missing, or holds a certificate that is not a CA, stops the server naming it', async () => {
  const server = await certificateFiles();
  const leaf = await certDir({ 'leaf.pem': certs.pinned.cert });
  try {
    const load = (file: string) =>
      new CertificateStore(
        { files: server.tls.certificates ?? [], dataDir: files.path('data'), clientCaFiles: [file] },
        { minVersion: 'TLSv1.2' },
      ).load();
    await assert.rejects(load(leaf.path('leaf.pem')), /leaf\.pem: CN=pinned laptop is not a CA certificate/);
    await assert.rejects(load(leaf.path('none.pem')), /none\.pem: cannot read the client CA \(ENOENT\)/);
    const store = new CertificateStore(
      {
        files: server.tls.certificates ?? [],
        dataDir: files.path('data'),
        clientCaFiles: [files.path('ca.pem')],
      },
      { minVersion: 'TLSv1.2' },
    );
    await store.load();
    assert.deepEqual(
      store.clientCas.map((c) => c.fingerprint256),
      [certs.ca.fingerprint],
    );
  } finally {
    await leaf.cleanup();
    await server.cleanup();
  }
});

/** A server whose only user, carol, logs in by a certificate from `caFiles` (with `crlFiles`). */
function carolServer(
  paths: () => { caFiles: string[]; crlFiles?: string[] },
  certLogin: 'cert-only' | 'cert-or-password' = 'cert-only',
): () => TestServer {
  let serverTls: Awaited<ReturnType<typeof certificateFiles>>;
  let table: UserTable;
  before(async () => {
    serverTls = await certificateFiles();
    const home = files.path('home');
    await mkdir(home, { recursive: true });
    const carol = {
      username: 'carol',
      passwordHash: await testHash('pw'),
      home,
      certLogin,
    };
    table = new UserTable([carol]);
  });
  after(async () => serverTls.cleanup());
  return useFerry(() => {
    const { caFiles, crlFiles = [] } = paths();
    return {
      authenticator: table,
      tls: { ...serverTls.tls, clientCaFiles: caFiles, clientCrlFiles: crlFiles },
      defender: { enabled: false },
    };
  });
}

describe(
  "OpenSSL validates a client's chain (as `openssl verify -purpose sslclient`)",
  { timeout: 60_000 },
  () => {
    const c: Record<string, TestCert> = {};
    let dir: Awaited<ReturnType<typeof certDir>>;
    before(async () => {
      c.root0 = await testCa('Root with pathlen 0', { pathLength: 0 });
      c.sub0 = await issuedBy(c.root0, 'Sub-CA under pathlen 0', { asCa: true });
      const hiddenRoot = await testCa('Root not configured');
      c.configuredIntermediate = await issuedBy(hiddenRoot, 'Intermediate configured as client CA', {
        asCa: true,
      });
      c.deptA = await issuedBy(certs.ca, 'DeptA CA', {
        asCa: true,
        extensions: [permittedSubtree('O=DeptA')],
      });
      dir = await certDir({ 'cas.pem': certs.ca.cert + c.root0.cert + c.configuredIntermediate.cert });
    });
    after(async () => dir.cleanup());
    const server = carolServer(() => ({ caFiles: [dir.path('cas.pem')] }));

    test('chains within the constraints log in: under a pathlen:0 root, a name constraint, a configured intermediate', async () => {
      await withClients(async (track) => {
        const ts = server();
        const good = [
          await issuedBy(c.root0!, 'carol'),
          await issuedBy(c.deptA!, 'carol', { subject: 'O=DeptA, CN=carol' }),
          await issuedBy(c.configuredIntermediate!, 'carol'),
          certs.carolViaIntermediate,
        ];
        for (const cert of good)
          assert.equal(await login(track(await connect(ts, 'implicit', cert)), 'carol'), 232);
      });
    });

    test("refused with OpenSSL's reason: path length, name constraint, unknown critical extension, a CA as a user", async () => {
      await withClients(async (track) => {
        const ts = server();
        const cases: [string, TestCert, RegExp][] = [
          [
            '(a) a sub-CA under a pathlen:0 root',
            await issuedBy(c.sub0!, 'carol'),
            /path length constraint exceeded \(PATH_LENGTH_EXCEEDED\)/,
          ],
          [
            "(b) outside the sub-CA's permitted subtree",
            await issuedBy(c.deptA!, 'carol', { subject: 'O=DeptB, CN=carol' }),
            /permitted subtree violation/,
          ],
          [
            '(c) an unknown critical extension',
            await issuedBy(certs.ca, 'carol', { extensions: [unknownCriticalExtension()] }),
            /unhandled critical extension/,
          ],
          [
            "(d) an intermediate CA certificate (not configured) as the user's",
            await issuedBy(certs.ca, 'carol', { asCa: true }),
            /it is a CA certificate itself/,
          ],
          [
            'an extended key usage for servers only',
            await issuedBy(certs.ca, 'carol', { serverNames: ['carol'] }),
            /unsuitable certificate purpose \(INVALID_PURPOSE\)/,
          ],
        ];
        for (const [what, cert, reason] of cases) {
          const from = ts.logs.length;
          assert.equal(await login(track(await connect(ts, 'implicit', cert)), 'carol'), 530, what);
          assert.match(await failureReason(ts, 'carol', from), reason, what);
        }
      });
    });

    test('the CertificateRequest names the client CAs (openssl s_client)', async () => {
      const ts = server();
      const r = await runProcess('/usr/bin/openssl', [
        's_client',
        ...['-connect', `${ts.host}:${portOf(ts, 'implicit')}`, '-tls1_2'],
      ]);
      assert.doesNotMatch(r.stdout, /No client certificate CA names sent/);
      const names =
        /Acceptable client certificate CA names\n((?:.+\n)+?)(?:Requested|Client Certificate|Shared)/.exec(
          r.stdout,
        );
      assert.ok(names, r.stdout);
      for (const cn of [
        'Ferry test client CA',
        'Root with pathlen 0',
        'Intermediate configured as client CA',
      ])
        assert.match(String(names[1]), new RegExp(`CN ?= ?${cn}`));
    });
  },
);

describe('client CRLs: a revoked certificate logs no one in', { timeout: 60_000 }, () => {
  let carol: TestCert;
  let revoked: TestCert;
  let dir: Awaited<ReturnType<typeof certDir>>;
  before(async () => {
    carol = await issuedBy(certs.ca, 'carol');
    revoked = await issuedBy(certs.ca, 'carol');
    // Two CRLs in one file: OpenSSL reads one PEM block at a time, each must count.
    const otherCa = await testCa('Some CA with its own CRL');
    dir = await certDir({
      'ca.pem': certs.ca.cert,
      'crl.pem': (await crlOf(otherCa)) + (await crlOf(certs.ca, [revoked])),
    });
  });
  after(async () => dir.cleanup());
  const files = (): { caFiles: string[]; crlFiles: string[] } => ({
    caFiles: [dir.path('ca.pem')],
    crlFiles: [dir.path('crl.pem')],
  });
  const server = carolServer(files);

  test('a certificate the CRL lists is refused (CERT_REVOKED); another of the same CA logs in', async () => {
    await withClients(async (track) => {
      const ts = server();
      assert.equal(await login(track(await connect(ts, 'implicit', carol)), 'carol'), 232);
      const from = ts.logs.length;
      assert.equal(await login(track(await connect(ts, 'implicit', revoked)), 'carol'), 530);
      assert.match(await failureReason(ts, 'carol', from), /certificate revoked \(CERT_REVOKED\)/);
    });
  });

  describe('cert-or-password', () => {
    const either = carolServer(files, 'cert-or-password');

    test('a revoked certificate is logged as refused (CERT_REVOKED), whether the password then logs in or not', async () => {
      await withClients(async (track) => {
        const ts = either();
        for (const [password, code] of [
          ['pw', 230],
          ['wrong', 530],
        ] as const) {
          const from = ts.logs.length;
          assert.equal(await login(track(await connect(ts, 'implicit', revoked)), 'carol', password), code);
          const refused = await waitForLog(
            ts,
            (l) => l.msg === 'client certificate refused' && (l.obj as { user?: string }).user === 'carol',
            from,
          );
          assert.match(
            String((refused.obj as { reason?: string }).reason),
            /certificate revoked \(CERT_REVOKED\)/,
          );
        }
      });
    });
  });
});

test('client CRL files: unreadable or unparsable stop the server naming the file; odd ones are warned of', async () => {
  const server = await certificateFiles();
  const otherCa = await testCa('Not a client CA');
  const crls = await certDir({
    'empty.pem': 'nothing here\n',
    'bad.pem': '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n',
    'other.pem': await crlOf(otherCa),
    'ours.pem': await crlOf(certs.ca),
  });
  try {
    const load = (crl: string) =>
      new CertificateStore(
        {
          files: server.tls.certificates ?? [],
          dataDir: files.path('data'),
          clientCaFiles: [files.path('ca.pem')],
          clientCrlFiles: [crl],
        },
        { minVersion: 'TLSv1.2' },
      ).load();
    await assert.rejects(load(crls.path('empty.pem')), /empty\.pem: no PEM CRL in it/);
    await assert.rejects(load(crls.path('bad.pem')), /bad\.pem: CRL 1 is not a CRL OpenSSL can read/);
    await assert.rejects(load(crls.path('none.pem')), /none\.pem: cannot read the client CRL \(ENOENT\)/);
    await load(crls.path('ours.pem'));
    assert.deepEqual(await clientCrlWarnings([files.path('ca.pem')], [crls.path('ours.pem')]), []);
    const warned = await clientCrlWarnings([files.path('ca.pem')], [crls.path('other.pem')]);
    assert.equal(warned.length, 2, warned.join('\n'));
    assert.match(
      String(warned[0]),
      /other\.pem is issued by CN=Not a client CA, which is not a configured client CA/,
    );
    assert.match(
      String(warned[1]),
      /client CA CN=Ferry test client CA .* needs a CRL from CN=Ferry test client CA/,
    );
  } finally {
    await crls.cleanup();
    await server.cleanup();
  }
});
