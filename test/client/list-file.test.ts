/**
 * list() of a file's path gives that one entry, as LIST of a file does and as basic-ftp's list()
 * does, whether the server lists with MLSD (Ferry: MLSD of a file is refused, MLST answers) or
 * with LIST only (vsftpd: CWD into a file is refused, LIST of it answers). A path that is neither
 * still fails with the server's refusal, and so does a file where `directory` asks for a directory.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { ReplyError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, optionsOf } from './helpers.js';

/** Puts `dir/a.txt` (5 bytes); what list() gives for the file, the directory and a missing path. */
async function listsFile(c: FerryClient): Promise<void> {
  await c.mkdir('dir').catch(() => {});
  await c.put(Readable.from([Buffer.from('hello')]), 'dir/a.txt');
  for (const path of ['dir/a.txt', '/dir/a.txt']) {
    const entries = await c.list(path);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const [e] = entries;
    assert.equal(e?.name, 'a.txt');
    assert.equal(e?.type, 'file');
    assert.equal(e?.size, 5);
  }
  assert.deepEqual(
    (await c.list('dir')).map((e) => e.name),
    ['a.txt'],
  );
  const refused = (err: unknown): boolean => err instanceof ReplyError;
  await assert.rejects(c.list('dir/missing'), refused);
  // A directory asked for (a mirror's root, a pattern's directory): the file is refused.
  await assert.rejects(c.list('dir/a.txt', { directory: true }), refused);
  assert.equal((await c.send('NOOP')).code, 200, 'no reply left over');
}

describe('list() of a file path gives its one entry', { timeout: 60_000 }, () => {
  describe('Ferry (MLSD, MLST)', () => {
    let ts: TestServer;
    before(async () => {
      ts = await startFerry();
    });
    after(() => ts?.close());
    it('the entry, via MLST once MLSD refuses a file', async () => {
      const c = await FerryClient.connect(await optionsOf(ts));
      try {
        await listsFile(c);
      } finally {
        await c.close();
      }
    });
  });

  describe('vsftpd (LIST only)', () => {
    let peer: FtpsPeer;
    before(async () => {
      peer = await startVsftpd();
    });
    after(() => peer?.stop());
    it('the entry, via LIST of the path once CWD into it is refused', async () => {
      const c = await connectToPeer(peer);
      try {
        await listsFile(c);
      } finally {
        await c.close();
      }
    });
  });
});
