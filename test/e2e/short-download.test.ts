/**
 * A download whose storage ends short of the size the 150 announced is a failure, never a 226: the
 * client gets 451 and a data connection ended without TLS close_notify, the log and onTransfer say
 * it failed. Both an embedder's stream ending early and a local file truncated during the RETR.
 */
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { TransferRecord } from '../../src/server/options.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileSource, StorageBackend } from '../../src/storage/types.js';
import { forwardingStorage } from '../support/forwarding-storage.js';
import { loggedIn, startServer, textOf, waitForLog, withClients, type LogLine } from './harness.js';

const transferLine = (l: LogLine): boolean => l.msg === 'transfer' && 'transfer' in l.obj;

/** An embedder's store whose stream gives 5 bytes of a file it says holds 1000, then ends cleanly. */
function shortStore(): StorageBackend {
  const inner = new MemoryStorage({ files: { '/a.bin': Buffer.alloc(1000) } });
  return forwardingStorage(inner, {
    openRead: async (): Promise<FileSource> =>
      Object.assign(Readable.from([Buffer.from('hello')]), { fileSize: 1000 }),
  });
}

describe('a download ending short of its announced size', { timeout: 60_000 }, () => {
  test("an embedder's stream ending early: 451, the bytes it gave, recorded as failed", async () => {
    const records: TransferRecord[] = [];
    const ts = await startServer({ storageFor: shortStore, onTransfer: (r) => records.push(r) });
    try {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        const plain = await ftp.openData(await ftp.epsv(), { tls: false });
        assert.match(textOf(await ftp.cmd('RETR a.bin', 150)), /\(1000 bytes\)/);
        const conn = await ftp.secureData(plain);
        const data = await ftp.readAll(conn);
        assert.equal(
          textOf(await ftp.expect(451)),
          'Transfer aborted: the server could not send the whole file.',
        );
        assert.equal(data.toString(), 'hello');
        const line = await waitForLog(ts, transferLine);
        assert.equal((line.obj as { reply?: number }).reply, 451);
        assert.equal(
          (line.obj as { reason?: string }).reason,
          'the file ended after 5 of the 1000 bytes announced',
        );
        const [record] = records;
        assert.deepEqual(
          [record?.result, record?.reply, record?.reason],
          ['failed', 451, 'the file ended after 5 of the 1000 bytes announced'],
        );
      });
    } finally {
      await ts.close();
    }
  });

  test('a local file truncated after the 150: 451, not 226 with a short file', async () => {
    const ts = await startServer();
    try {
      await withClients(async (track) => {
        const file = join(ts.root, 'big.bin');
        await writeFile(file, Buffer.alloc(1024 * 1024, 7)); // past the small-file read at open
        const ftp = track(await loggedIn(ts, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        const plain = await ftp.openData(await ftp.epsv(), { tls: false });
        assert.match(textOf(await ftp.cmd('RETR big.bin', 150)), /\(1048576 bytes\)/);
        // Nothing is read before the data connection's handshake: the truncation comes first.
        await truncate(file, 1000);
        const data = await ftp.readAll(await ftp.secureData(plain));
        assert.equal(
          textOf(await ftp.expect(451)),
          'Transfer aborted: the server could not send the whole file.',
        );
        assert.ok(data.length <= 1000, `${data.length} bytes`);
      });
    } finally {
      await ts.close();
    }
  });

  test('a local file sent whole still ends in 226 (the check counts what was announced)', async () => {
    const ts = await startServer();
    try {
      await withClients(async (track) => {
        await writeFile(join(ts.root, 'big.bin'), Buffer.alloc(1024 * 1024, 7));
        const ftp = track(await loggedIn(ts, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('REST 1000', 350);
        assert.equal((await ftp.retrieve('big.bin')).length, 1024 * 1024 - 1000);
        await ftp.cmd('TYPE A', 200);
        assert.equal((await ftp.retrieve('big.bin')).length, 1024 * 1024);
      });
    } finally {
      await ts.close();
    }
  });
});
