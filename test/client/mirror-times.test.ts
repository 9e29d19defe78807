/**
 * A download mirror gives each file the server's time to the second: vsftpd's LIST shows only the
 * day of a file older than half a year and the minute of a newer one, so the time is asked with
 * MDTM (which vsftpd offers); the next run then finds nothing to transfer.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, withPeerLog } from './helpers.js';

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
});
