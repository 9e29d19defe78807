/**
 * A transfer that fails after its 150 (storage failing mid-file, mid-listing, mid-upload): its
 * reply is written before its data connection ends, which then ends without a reset. Cut first by
 * the stream pipeline, a download's end came before its 451, and an upload's client saw a reset
 * instead (curl: "Send failure", ftplib: SSLEOFError), never the reply. What the client hears is
 * recorded as it arrives.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { FailingWrites } from '../support/failing-writes.js';
import { withDeadline, type DataConnection, type RawFtp } from '../support/raw-ftp.js';
import { MODES, loggedIn, randomData, textOf, useFerry, withClients, type Mode } from './harness.js';

/** Reads of `/midfail.bin` fail after 256 KiB, of `/nothing.bin` at once; listings of `/broken` after their first entries; uploads to `/eio.bin` after 1 MiB. */
class FailingStorage extends FailingWrites {
  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    if (p !== '/midfail.bin' && p !== '/nothing.bin') return super.openRead(p, o, c);
    let chunks = p === '/nothing.bin' ? 4 : 0;
    return new Readable({
      read() {
        if (chunks++ < 4) this.push(Buffer.alloc(64 * 1024, 97));
        else this.destroy(new Error('EIO: i/o error, read'));
      },
    });
  }

  override async *list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    yield* super.list(dir, c);
    if (dir === '/broken') throw new Error('EIO: i/o error, scandir');
  }
}

/** How the data connection ended, and how many control bytes had come by then. */
interface Ending {
  readonly how: string[];
  /** The control connection's bytes read (TCP) when the data connection ended; -1 before. */
  controlBytes: number;
}

/** Records the end (or reset) of `data`, and what the control connection had received by then. */
function recorder(ftp: RawFtp, data: DataConnection): Ending {
  const e: Ending = { how: [], controlBytes: -1 };
  const seen = (what: string): void => {
    e.how.push(what);
    if (e.controlBytes < 0) e.controlBytes = ftp.socket.bytesRead;
  };
  data.stream.on('end', () => seen('end'));
  data.stream.on('error', (err: NodeJS.ErrnoException) => seen(err.code ?? err.message));
  return e;
}

/** The final reply had come (every control byte so far) when the data connection ended. */
function assertReplyFirst(ftp: RawFtp, e: Ending): void {
  assert.equal(e.controlBytes, ftp.socket.bytesRead, 'the data connection ended before the reply came');
}

/** The data connection (TLS), its command's 150 read first; then what the client sees is recorded. */
async function started(ftp: RawFtp, line: string): Promise<{ data: DataConnection; seen: Ending }> {
  const plain = await ftp.openData(await ftp.epsv(), { tls: false });
  await ftp.cmd(line, 150);
  const data = await ftp.secureData(plain);
  return { data, seen: recorder(ftp, data) };
}

describe('a transfer that fails after its 150', { timeout: 60_000 }, () => {
  const files: Record<string, string | Uint8Array> = {
    '/midfail.bin': new Uint8Array(1024 * 1024),
    '/nothing.bin': new Uint8Array(1024 * 1024),
  };
  for (let i = 0; i < 2000; i++) files[`/broken/an-entry-with-a-long-name-${i}.txt`] = 'x';
  const storage = new FailingStorage({ files });
  const server = useFerry({ storageFor: () => storage });

  for (const mode of MODES as Mode[]) {
    for (const [line, said] of [
      ['RETR midfail.bin', 'read the file'],
      // Nothing sent before it fails: the connection's end is the first thing on it.
      ['RETR nothing.bin', 'read the file'],
      ['LIST broken', 'list the directory'],
      ['MLSD broken', 'list the directory'],
    ] as const)
      test(`${mode}: ${line}: the 451, then the data connection's end`, async () => {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.cmd('TYPE I', 200);
          const { data, seen } = await started(ftp, line);
          await ftp.readAll(data);
          const r = await ftp.expect();
          assert.equal(`${r.code} ${textOf(r)}`, `451 Transfer aborted: the server could not ${said}.`);
          await withDeadline(data.closed, ftp.timeoutMs, 'the data connection to close');
          assertReplyFirst(ftp, seen);
          assert.deepEqual(seen.how, ['end']);
          await ftp.cmd('NOOP', 200);
        });
      });

    test(`${mode}: STOR failing mid-upload: the 451 while the client sends, then an end without a reset`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const { data, seen } = await started(ftp, 'STOR eio.bin');
        const ended = new Promise((resolve) => data.stream.once('end', resolve));
        data.stream.resume(); // what the server sends (its close_notify) is read
        // More than storage takes before failing: the client is still sending when it fails.
        data.stream.write(randomData(8 * 1024 * 1024));
        const r = await ftp.expect();
        assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not write the file.');
        await withDeadline(ended, ftp.timeoutMs, 'the server to end the data connection');
        data.stream.end();
        await withDeadline(data.closed, ftp.timeoutMs, 'the data connection to close');
        // Not whether the reply came first: the client, busy sending, may read the data connection
        // before the control one. What matters is that no reset came (our close_notify and FIN).
        assert.deepEqual(seen.how, ['end']);
        await ftp.cmd('NOOP', 200);
      });
    });
  }
});

describe('a download that fails after its 150 over a clear data connection', { timeout: 60_000 }, () => {
  const storage = new FailingStorage({ files: { '/nothing.bin': new Uint8Array(1024 * 1024) } });
  const server = useFerry({ storageFor: () => storage, allowClearData: true });

  test('RETR failing before its first byte: the 451, then the (bare) end of the connection', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('PROT C', 200);
      await ftp.cmd('TYPE I', 200);
      const data = await ftp.openData(await ftp.epsv(), { tls: false });
      const seen = recorder(ftp, data);
      await ftp.cmd('RETR nothing.bin', 150);
      await ftp.readAll(data);
      const r = await ftp.expect();
      assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not read the file.');
      await withDeadline(data.closed, ftp.timeoutMs, 'the data connection to close');
      assertReplyFirst(ftp, seen);
      assert.deepEqual(seen.how, ['end']);
    });
  });
});
