/**
 * A storage that fails while a transfer is under way (an embedder's backend over a host directory
 * whose file is rotated away, an object body reset) fails that transfer alone: the reply says so,
 * the session and the server go on. Each failure here used to end the whole process.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Reply } from '../../src/protocol/reply.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { loggedIn, textOf, useFerry, withClients } from './harness.js';

/** A backend whose `/rotated.log` is read from a host directory it was rotated out of, `/reset.bin` from a body the test fails. */
class FailingStorage extends MemoryStorage {
  hostDir = '';
  /** The last stream openRead gave. */
  opened: Readable | undefined;

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    // Gone since the stat: the stream reports it (ENOENT), a tick later.
    if (p === '/rotated.log') return (this.opened = createReadStream(path.join(this.hostDir, p)));
    if (p === '/reset.bin') return (this.opened = new PassThrough());
    return super.openRead(p, o, c);
  }
}

/** Resolves once `s` has closed. Not events.once: its 'error' listener would hide the unhandled 'error' under test. */
function closed(s: Readable | undefined): Promise<void> {
  assert.ok(s);
  return new Promise((resolve) => (s.closed ? resolve() : s.on('close', resolve)));
}

/**
 * RETR `arg` whose storage stream has failed (`fail`) once the 150 is out and before the client's
 * data connection arrives: the final reply and the bytes that came.
 */
async function failedRetr(
  ftp: RawFtp,
  arg: string,
  fail: () => Promise<void>,
): Promise<{ r: Reply; bytes: number }> {
  const port = await ftp.epsv();
  await ftp.cmd(`RETR ${arg}`, 150);
  await fail();
  const conn = await ftp.openData(port, { tls: true });
  const bytes = (await ftp.readAll(conn)).length;
  const r = await ftp.expect();
  await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
  return { r, bytes };
}

describe('a storage stream that fails before the data connection', { timeout: 60_000 }, () => {
  const storage = new FailingStorage({ files: { '/rotated.log': 'old lines\n', '/reset.bin': 'abc' } });
  before(async () => {
    storage.hostDir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rotated-'));
  });
  after(() => rm(storage.hostDir, { recursive: true, force: true }));
  const server = useFerry({ storageFor: () => storage });

  test('a file gone since its stat: 550 for that RETR, the session and the server go on', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const { r, bytes } = await failedRetr(ftp, 'rotated.log', () => closed(storage.opened));
      assert.equal(r.code, 550, textOf(r));
      assert.equal(bytes, 0);
      await ftp.cmd('PWD', 257);
      const other = track(await loggedIn(server(), 'explicit'));
      await other.cmd('NOOP', 200);
    });
  });

  test('a body reset while the client connects: that RETR fails, nothing of it delivered', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const { r, bytes } = await failedRetr(ftp, 'reset.bin', () => {
        const body = storage.opened;
        body?.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        return closed(body);
      });
      assert.ok(r.code === 451 || r.code === 426, `${r.code} ${textOf(r)}`);
      assert.equal(bytes, 0);
      await ftp.cmd('PWD', 257);
    });
  });
});
