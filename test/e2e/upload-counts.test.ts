/**
 * An upload's byte count (the session report, the `transfer` log line, onTransfer: xferlog and the
 * metrics) is what storage has taken, not what was read from the data connection: a paced upload
 * has up to ~800 KB read into buffers ahead of its file, which a cut upload never stores.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { TransferOutcome } from '../../src/server/transfers.js';
import { abortedError } from '../../src/storage/fs-errors.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { withDeadline } from '../support/raw-ftp.js';
import { loggedIn, randomData, useFerry, waitForLog, withClients } from './harness.js';

/** `/held.bin`: storage reads one chunk, says it stored 1 byte of it, then takes nothing until aborted. */
class HeldUploads extends MemoryStorage {
  firstChunk = 0;
  #took = (): void => {};
  readonly took = new Promise<void>((resolve) => (this.#took = resolve));

  override async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    if (p !== '/held.bin') return super.write(p, src, o, c);
    const chunk = await new Promise<Buffer>((resolve) => src.once('data', resolve));
    src.pause();
    this.firstChunk = chunk.length;
    c.written?.(1);
    this.#took();
    await new Promise((resolve) => c.signal.addEventListener('abort', resolve, { once: true }));
    throw abortedError(c.signal);
  }
}

describe('upload byte counts', { timeout: 60_000 }, () => {
  const storage = new HeldUploads();
  const outcomes: TransferOutcome[] = [];
  const server = useFerry({ storageFor: () => storage, onTransfer: (t) => outcomes.push(t) });

  test('count the bytes storage took, also while running and once aborted', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const plain = await ftp.openData(await ftp.epsv(), { tls: false });
      await ftp.cmd('STOR held.bin', 150);
      const conn = await ftp.secureData(plain);
      conn.stream.write(randomData(1024 * 1024)); // more than storage takes: not awaited
      await withDeadline(storage.took, ftp.timeoutMs, 'storage to take the first chunk');
      assert.ok(storage.firstChunk > 1, 'the server had read more than storage took');

      const doing = server()
        .server.sessions()
        .find((s) => s.port === ftp.socket.localPort)?.doing;
      assert.deepEqual(doing, { command: 'STOR', path: '/held.bin', bytes: 1, direction: 'upload' });

      const from = server().logs.length;
      await ftp.cmd('ABOR', 426);
      await ftp.expect(226);
      const line = await waitForLog(server(), (l) => l.msg === 'transfer', from);
      assert.equal((line.obj as { bytes: number }).bytes, 1);
      assert.deepEqual(
        outcomes.map((t) => [t.command, t.bytes, t.result]),
        [['STOR', 1, 'aborted']],
      );
    });
  });

  test('a complete upload counts every byte stored', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const from = server().logs.length;
      const [, done] = await ftp.store('whole.bin', randomData(700_000));
      assert.equal(done.code, 226);
      const line = await waitForLog(server(), (l) => l.msg === 'transfer', from);
      assert.equal((line.obj as { bytes: number }).bytes, 700_000);
      assert.deepEqual(outcomes.at(-1)?.bytes, 700_000);
    });
  });
});
