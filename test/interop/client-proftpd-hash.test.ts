/**
 * `mirror --verify` against ProFTPD 1.3.8 with mod_digest, whose HASH reply has two lines
 * (`213-Computing SHA-256 digest`, then `213 SHA-256 0-N <hex> path`): the client must read the
 * checksum from the last line, so that a file of the same size with other bytes is sent again, and a
 * file continued (-c) onto bytes that were not the source's is caught.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { startProftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, withPeerLog } from '../client/helpers.js';

/**
 * A local part of the remote file, as a download cut a minute after the file was written: mirror -c
 * continues only a destination newer than its source (beyond the listing's precision).
 */
async function cutLater(file: string, part: string | Buffer, remote: string): Promise<void> {
  await writeFile(file, part);
  const later = new Date((await stat(remote)).mtimeMs + 60_000);
  await utimes(file, later, later);
}

describe('ProFTPD with mod_digest: the checksum on the last line of HASH', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let client: FerryClient;
  let local: string;
  const log = new DialogueLog();
  const withLog = <T>(fn: () => Promise<T>): Promise<T> => withPeerLog('proftpd', peer, log, fn);

  before(async () => {
    peer = await startProftpd({ extraConfig: ['LoadModule mod_digest.c', 'DigestEngine on'] });
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-digest-'));
    client = await connectToPeer(peer, {}, log);
  });
  after(async () => {
    await client?.close();
    await peer?.stop();
    await rm(local, { recursive: true, force: true });
  });

  it('checksum() reads the SHA-256 of a two-line 213', () =>
    withLog(async () => {
      assert.ok(client.features.has('HASH'), 'mod_digest offers HASH');
      await peer.putFile('one.txt', 'ab');
      const sum = await client.checksum('one.txt');
      assert.deepEqual(sum, { algorithm: 'SHA-256', hex: createHash('sha256').update('ab').digest('hex') });
      // The reply had two lines, the checksum on the last.
      assert.ok(log.lines.some((l) => /^< 213 Computing SHA-256 digest \| SHA-256 0-2 /.test(l)));
    }));

  it('mirror --verify sends again a file of the same size and time with other bytes', () =>
    withLog(async () => {
      const remote = await peer.putFile('tree/same-size.txt', 'version 2');
      const dst = path.join(local, 'tree');
      const { mtime } = await stat(remote);
      await mirror(client, { direction: 'download', local: dst, remote: 'tree' });
      await writeFile(path.join(dst, 'same-size.txt'), 'version 1');
      await utimes(path.join(dst, 'same-size.txt'), mtime, mtime);
      const r = await mirror(client, { direction: 'download', local: dst, remote: 'tree', verify: true });
      assert.equal(r.verifiedBy, 'SHA-256');
      assert.deepEqual(r.files, ['same-size.txt']);
      assert.equal(await readFile(path.join(dst, 'same-size.txt'), 'utf8'), 'version 2');
    }));

  it('mirror -c --verify fails a file continued onto bytes that were not the source', () =>
    withLog(async () => {
      // Longer than the last bytes mirror compares before it continues (64 KiB): a held part that
      // differs only at its first byte passes that check, and only the checksum after tells.
      const source = Buffer.from(Array.from({ length: 192 * 1024 }, (_, i) => (i * 7) % 251));
      const remote = await peer.putFile('cont/big.bin', source);
      const dst = path.join(local, 'cont');
      await mkdir(dst);
      const held = Buffer.from(source.subarray(0, 100 * 1024));
      held[0] = (held[0] ?? 0) ^ 0xff;
      await cutLater(path.join(dst, 'big.bin'), held, remote);
      await assert.rejects(
        mirror(client, { direction: 'download', local: dst, remote: 'cont', verify: true, continue: true }),
        /was continued \(-c\), but its SHA-256 differs from the source's/,
      );
    }));

  it('mirror -c --verify counts a file it continued and checked as compared', () =>
    withLog(async () => {
      const remote = await peer.putFile('good/part.txt', 'the source, whole: 0123456789');
      const dst = path.join(local, 'good');
      await mkdir(dst);
      await cutLater(path.join(dst, 'part.txt'), 'the source', remote);
      const r = await mirror(client, {
        direction: 'download',
        local: dst,
        remote: 'good',
        verify: true,
        continue: true,
      });
      assert.equal(await readFile(path.join(dst, 'part.txt'), 'utf8'), 'the source, whole: 0123456789');
      assert.equal(r.verifiedBy, 'SHA-256');
      assert.equal(r.verified, 1);
    }));
});
