/**
 * `mirror --verify` (the `verify` option): files of the same size are compared by the server's
 * checksum (Ferry's HASH) rather than by time, so a changed file with an unchanged size and time is
 * transferred, and an identical one with another time is not; a server without any checksum
 * command falls back to size and time (vsftpd: test/client/cli.test.ts covers the plain mirror), and so
 * does a file whose checksum the server refuses (said in a note).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { StorageError } from '../../src/errors.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { FileSource, StorageContext, VPath } from '../../src/storage/types.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { clientOf, ferry } from './helpers.js';

/** Files named `locked.txt` cannot be read (HASH of one gets 550), as on a server that may list them only. */
class LockedFiles extends LocalStorage {
  override openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    if (p.endsWith('/locked.txt'))
      throw new StorageError('permission-denied', `open ${p}: permission denied`);
    return super.openRead(p, o, c);
  }
}

describe('mirror --verify against Ferry (HASH)', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let local: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry({ storageFor: (p) => new LockedFiles({ root: p.home, readOnly: p.readOnly }) });
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

  test('a file whose checksum the server refuses is compared by size and time, and the mirror says so', async () => {
    await mkdir(path.join(ts.root, 'locks'));
    await writeFile(path.join(ts.root, 'locks', 'locked.txt'), 'remote');
    await writeFile(path.join(ts.root, 'locks', 'open.txt'), 'same');
    const dst = path.join(local, 'locks');
    await mkdir(dst);
    // Same size and time as the remote ones: only the checksum could tell, and for locked.txt there is none.
    await writeFile(path.join(dst, 'locked.txt'), 'local!');
    await writeFile(path.join(dst, 'open.txt'), 'same');
    for (const name of ['locked.txt', 'open.txt']) {
      const { mtime } = await stat(path.join(ts.root, 'locks', name));
      await utimes(path.join(dst, name), mtime, mtime);
    }
    const events: MirrorEvent[] = [];
    const r = await mirror(client, {
      direction: 'download',
      local: dst,
      remote: 'locks',
      verify: true,
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(r.files, []);
    assert.equal(r.verifiedBy, 'SHA-256');
    const notes = events.filter((e) => e.kind === 'note');
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.equal(notes[0]?.path, 'locked.txt');
    assert.match(
      notes[0]?.kind === 'note' ? notes[0].message : '',
      /^checksum refused \(.*550.*\): compared by size and time$/,
    );
  });
});
