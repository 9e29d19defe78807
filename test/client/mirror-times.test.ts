/**
 * A download mirror gives each file the server's time to the second: vsftpd's LIST shows only the
 * day of a file older than half a year and the minute of a newer one, so the time is asked with
 * MDTM (which vsftpd offers); the next run then finds nothing to transfer. A same-size change made
 * within the minute of the last mirror looked unchanged, run after run (exit 0): such a file's
 * remote time is asked with MDTM too, both ways. `--size-only` (sizeOnly): new local times alone
 * send nothing, a new size does.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, withPeerLog } from './helpers.js';

/** Seconds `s` into a minute an hour ago (LIST shows such a recent file as `Mon DD HH:MM`). */
const inMinute = (s: number): Date =>
  new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 + s * 1000);

describe('mirror times against vsftpd (LIST shows days or minutes)', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let home: string;
  let client: FerryClient;
  const log = new DialogueLog();

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-times-'));
    peer = await startVsftpd();
    client = await connectToPeer(peer, {}, log);
  });
  after(async () => {
    await client?.close();
    await peer?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('a downloaded file gets the time of MDTM, not the day or minute of LIST', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      const old = new Date('2020-01-02T03:04:05Z');
      // Within the half year LIST shows as `Mon DD HH:MM`, with seconds it cannot show.
      const recent = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 + 37_000);
      await utimes(await peer.putFile('t/one.txt', 'one'), old, old);
      await utimes(await peer.putFile('t/two.txt', 'two'), recent, recent);
      const local = path.join(home, 't');
      const first = await mirror(client, { direction: 'download', local, remote: 't' });
      assert.equal(first.transferred, 2);
      assert.equal((await stat(path.join(local, 'one.txt'))).mtime.toISOString(), old.toISOString());
      assert.equal((await stat(path.join(local, 'two.txt'))).mtime.toISOString(), recent.toISOString());
      assert.ok(log.includes('> MDTM t/one.txt'), log.dump());
      const again = await mirror(client, { direction: 'download', local, remote: 't' });
      assert.deepEqual(again.files, []);
    }));

  it('an upload sends a file changed within the minute of the last mirror', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      const local = path.join(home, 'up');
      await mkdir(local);
      const file = path.join(local, 'index.html');
      const write = async (text: string, t: Date): Promise<void> => {
        await writeFile(file, text);
        await utimes(file, t, t);
      };
      await write('version 1', inMinute(10));
      const o = { direction: 'upload', local, remote: 'up', perms: false } as const;
      assert.deepEqual((await mirror(client, o)).files, ['index.html']);
      await write('version 2', inMinute(40));
      assert.deepEqual((await mirror(client, o)).files, ['index.html']);
      assert.equal(await readFile(path.join(peer.root, 'up', 'index.html'), 'utf8'), 'version 2');
      assert.ok(log.includes('> MDTM up/index.html'), log.dump());
      assert.deepEqual((await mirror(client, o)).files, [], 'unchanged since: nothing sent');
    }));

  it('a download fetches a file changed within the minute of the last mirror', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      const local = path.join(home, 'down');
      const put = async (text: string, t: Date): Promise<void> => {
        const f = await peer.putFile('down/index.html', text);
        await utimes(f, t, t);
      };
      await put('version 1', inMinute(10));
      const o = { direction: 'download', local, remote: 'down', perms: false } as const;
      assert.deepEqual((await mirror(client, o)).files, ['index.html']);
      await put('version 2', inMinute(40));
      assert.deepEqual((await mirror(client, o)).files, ['index.html']);
      assert.equal(await readFile(path.join(local, 'index.html'), 'utf8'), 'version 2');
      assert.deepEqual((await mirror(client, o)).files, [], 'unchanged since: nothing fetched');
    }));

  it('--size-only: new local times send nothing, asking no MDTM; a new size is sent', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      const local = path.join(home, 'sizes');
      await mkdir(local);
      const file = path.join(local, 'a.txt');
      await writeFile(file, 'one');
      const o = { direction: 'upload', local, remote: 'sizes', perms: false, sizeOnly: true } as const;
      assert.deepEqual((await mirror(client, o)).files, ['a.txt']);
      // A fresh checkout: the same bytes, a new time.
      const later = new Date(Date.now() + 86_400_000);
      await utimes(file, later, later);
      const from = log.lines.length;
      const again = await mirror(client, o);
      assert.deepEqual(again.files, []);
      assert.equal(again.unchanged, 1);
      assert.ok(!log.lines.slice(from).includes('> MDTM sizes/a.txt'), log.dump());
      await writeFile(file, 'three');
      assert.deepEqual((await mirror(client, o)).files, ['a.txt']);
      assert.equal(await readFile(path.join(peer.root, 'sizes', 'a.txt'), 'utf8'), 'three');
    }));
});
