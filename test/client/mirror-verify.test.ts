/**
 * `mirror --verify` (the `verify` option): files of the same size are compared by the server's
 * checksum (Ferry's HASH) rather than by time, so a changed file with an unchanged size and time is
 * transferred, and an identical one with another time is not; a server without any checksum
 * command falls back to size and time (vsftpd: test/client/cli.test.ts covers the plain mirror).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { clientOf, ferry } from './helpers.js';

describe('mirror --verify against Ferry (HASH)', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let local: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry();
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-verify-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(local, { recursive: true, force: true });
  });

  test('the server checksum decides for files of the same size', async () => {
    await mkdir(path.join(ts.root, 'tree'));
    await writeFile(path.join(ts.root, 'tree', 'same.txt'), 'identical');
    await writeFile(path.join(ts.root, 'tree', 'changed.txt'), 'version 1');
    const first = await mirror(client, { direction: 'download', local, remote: 'tree' });
    assert.equal(first.transferred, 2);

    // Same size and time on both sides, other content: only the checksum can tell.
    const remoteChanged = path.join(ts.root, 'tree', 'changed.txt');
    const { mtime } = await stat(remoteChanged);
    await writeFile(remoteChanged, 'version 2');
    await utimes(remoteChanged, mtime, mtime);
    await utimes(path.join(local, 'changed.txt'), mtime, mtime);
    // Same content, the remote one newer: by time it would be fetched again.
    const later = new Date(Date.now() + 3_600_000);
    await utimes(path.join(ts.root, 'tree', 'same.txt'), later, later);

    const plain = await mirror(client, { direction: 'download', local, remote: 'tree', dryRun: true });
    assert.deepEqual(plain.files, ['same.txt']);
    assert.equal(plain.verifiedBy, undefined);

    const verified = await mirror(client, { direction: 'download', local, remote: 'tree', verify: true });
    assert.deepEqual(verified.files, ['changed.txt']);
    assert.equal(verified.verifiedBy, 'SHA-256');
    assert.equal(verified.verified, 2);
    assert.equal(await readFile(path.join(local, 'changed.txt'), 'utf8'), 'version 2');

    const checksum = await client.checksum('tree/changed.txt');
    assert.equal(checksum?.algorithm, 'SHA-256');
  });

  test('ferry mirror --verify with no file of the same size on both sides does not say the server offers no checksum', async () => {
    await mkdir(path.join(ts.root, 'fresh'));
    await writeFile(path.join(ts.root, 'fresh', 'new.txt'), 'new');
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    const env = { HOME: local, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(local, 'known') };
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/fresh`;
    const r = await ferry(['mirror', '--verify', '--fingerprint', pin, url, path.join(local, 'fresh')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /offers no checksum/);
    assert.match(r.stderr, /^No file has the same size on both sides: nothing to compare by HASH\.$/m);
  });
});
