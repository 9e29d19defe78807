/**
 * What an embedder's listen() rejects with: a certificate or key that cannot serve names its option
 * (`key`, as every other OptionError does), and a port another program holds is Ferry's
 * ERR_ADDRESS_IN_USE naming the address and port, the listener it had bound already closed (as is an
 * address this machine does not have: ERR_ADDRESS_NOT_AVAILABLE).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { FerryError } from '../../src/errors.js';
import { OptionError } from '../../src/server/options.js';
import { FerryServer } from '../../src/server/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { crlOf, selfSignedServer, testCa } from '../support/client-certs.js';
import { testCertificate } from '../support/ferry.js';

let dir: string;
let certFile: string;
let keyFile: string;
let garbage: string;
let otherKey: string;
let caFile: string;
let crlFile: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-errors-'));
  const pair = await testCertificate();
  [certFile, keyFile, garbage] = ['cert.pem', 'key.pem', 'garbage.pem'].map((f) => path.join(dir, f)) as [
    string,
    string,
    string,
  ];
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key);
  await writeFile(garbage, 'not a certificate at all\n');
  [otherKey, caFile, crlFile] = ['other-key.pem', 'ca.pem', 'ca-crl.pem'].map((f) => path.join(dir, f)) as [
    string,
    string,
    string,
  ];
  await writeFile(otherKey, (await selfSignedServer(['localhost'])).key);
  const ca = await testCa('Listen Errors CA');
  await writeFile(caFile, ca.cert);
  await writeFile(crlFile, await crlOf(ca));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function serverWith(o: {
  certificates: { certFile: string; keyFile: string }[];
  clientCaFiles?: string[];
  clientCrlFiles?: string[];
  implicitPort?: number;
  implicitHost?: string;
}): FerryServer {
  return new FerryServer({
    explicit: { host: '127.0.0.1', port: 0 },
    implicit: { host: o.implicitHost ?? '127.0.0.1', port: o.implicitPort ?? 0 },
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    tls: { certificates: o.certificates, clientCaFiles: o.clientCaFiles, clientCrlFiles: o.clientCrlFiles },
  });
}

/** What listen() rejects with, which must be an OptionError; nothing is left accepting. */
async function rejection(server: FerryServer): Promise<OptionError> {
  const err = await server.listen().then(
    () => assert.fail('listen() resolved'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OptionError, String(err));
  assert.equal(err.code, 'ERR_INVALID_OPTION');
  assert.equal(server.accepting, false);
  return err;
}

for (const [key, message] of [
  ['certFile', 'TLS certificate .*garbage\\.pem: not a PEM certificate'],
  ['keyFile', 'TLS key .*garbage\\.pem: not a private key'],
] as const) {
  test(`a ${key} of garbage: listen() rejects with an OptionError naming tls.certificates.1.${key}`, async () => {
    // The second pair: the index named is the one that is wrong.
    const server = serverWith({
      certificates: [
        { certFile, keyFile },
        { certFile, keyFile, [key]: garbage },
      ],
    });
    const err = await rejection(server);
    assert.equal(err.key, `tls.certificates.1.${key}`);
    assert.match(err.message, new RegExp(`^options\\.tls\\.certificates\\.1\\.${key}: ${message}`));
  });
}

test("a key that is not its certificate's: listen() rejects naming the pair, tls.certificates.1", async () => {
  const err = await rejection(
    serverWith({
      certificates: [
        { certFile, keyFile },
        { certFile, keyFile: otherKey },
      ],
    }),
  );
  assert.equal(err.key, 'tls.certificates.1');
  assert.match(err.message, /^options\.tls\.certificates\.1: .*other-key\.pem/);
});

test('a CRL file of garbage: listen() rejects naming its index, tls.clientCrlFiles.1', async () => {
  const err = await rejection(
    serverWith({
      certificates: [{ certFile, keyFile }],
      clientCaFiles: [caFile],
      clientCrlFiles: [crlFile, garbage],
    }),
  );
  assert.equal(err.key, 'tls.clientCrlFiles.1');
  assert.match(err.message, /^options\.tls\.clientCrlFiles\.1: .*garbage\.pem: no PEM CRL in it/);
});

test('a port another program holds: listen() rejects with ERR_ADDRESS_IN_USE naming it, the other port released', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const taken = (blocker.address() as net.AddressInfo).port;
    const server = serverWith({ certificates: [{ certFile, keyFile }], implicitPort: taken });
    const err = await server.listen().then(
      () => assert.fail('listen() resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.code, 'ERR_ADDRESS_IN_USE');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1 port ${taken} \\(implicit FTPS\\).*in use`));
    // The explicit listener, bound first on a port of its own, was closed again.
    await explicitClosed(server);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

/** Whether the explicit listener, bound before the implicit one failed, was closed again. */
async function explicitClosed(server: FerryServer): Promise<void> {
  const explicit = server.address.explicit;
  assert.ok(explicit, 'the explicit listener was bound before the implicit one failed');
  const probe = net.connect({ host: '127.0.0.1', port: explicit.port });
  const outcome = await Promise.race([
    once(probe, 'error').then(([e]) => (e as NodeJS.ErrnoException).code),
    once(probe, 'connect').then(() => 'connected'),
  ]);
  probe.destroy();
  assert.equal(outcome, 'ECONNREFUSED');
  assert.equal(server.accepting, false);
}

test('an address no interface has: listen() rejects with ERR_ADDRESS_NOT_AVAILABLE naming it, the other port released', async () => {
  // TEST-NET-3 (RFC 5737): documentation only, on no interface.
  const absent = '203.0.113.77';
  const here = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  assert.ok(!here.includes(absent), `${absent} is not an address of this machine`);
  const server = serverWith({ certificates: [{ certFile, keyFile }], implicitHost: absent });
  const err = await server.listen().then(
    () => assert.fail('listen() resolved'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FerryError, String(err));
  assert.equal(err.code, 'ERR_ADDRESS_NOT_AVAILABLE');
  assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRNOTAVAIL');
  assert.equal(
    err.message,
    `Cannot listen on ${absent} port 0 (implicit FTPS): no interface of this machine has that address (EADDRNOTAVAIL).`,
  );
  await explicitClosed(server);
});
