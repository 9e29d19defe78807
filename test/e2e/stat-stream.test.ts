/**
 * `STAT <dir>` sends a directory's listing over the control connection as the client reads it: a
 * huge directory costs the server a batch of memory, not the whole listing (it was built whole in
 * memory, and a 200,000-entry one overflowed the stack: 451), and a client that pipelines STATs
 * without reading stops the listing where the connection's output bound stops it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageBackend, VPath } from '../../src/storage/types.js';
import { joinVPath } from '../../src/storage/virtual-path.js';
import { withDeadline } from '../support/raw-ftp.js';
import { loggedIn, MODES, textOf, useFerry, waitForLog, withClients } from './harness.js';

const BATCHES = 160;
/** /mid: a listing the test client takes in one reply (its parser stops at 1 MiB). */
const MID_BATCHES = 4;
const PER_BATCH = 1_000;
/** 200-character names: the whole listing is ~40 MB, far beyond what the sockets buffer. */
const nameOf = (b: number, i: number): string =>
  `${String(b * PER_BATCH + i).padStart(7, '0')}-${'n'.repeat(192)}`;

/** What the server pulled from the big directory's listing; `closed` resolves when it stops. */
const pulled = { entries: 0, exhausted: false, closed: Promise.resolve(), onClose: () => {} };

/** A memory storage whose /big and /mid directories list made-up files, BATCHES and MID_BATCHES of them. */
function bigDirectoryStorage(): StorageBackend {
  const inner = new MemoryStorage({
    files: { '/big/.keep': '', '/mid/.keep': '', '/small/a.txt': 'a', '/small/b.txt': 'bb' },
  });
  async function* list(
    dir: VPath,
    c: Parameters<StorageBackend['list']>[1],
  ): AsyncIterable<readonly FileStat[]> {
    const batches = dir === '/big' ? BATCHES : dir === '/mid' ? MID_BATCHES : 0;
    if (batches === 0) return yield* inner.list(dir, c);
    pulled.exhausted = false;
    pulled.closed = new Promise<void>((resolve) => (pulled.onClose = resolve));
    try {
      for (let b = 0; b < batches; b++) {
        const batch: FileStat[] = [];
        for (let i = 0; i < PER_BATCH; i++) {
          const name = nameOf(b, i);
          batch.push({
            name,
            path: joinVPath(dir, name),
            type: 'file',
            size: i,
            modified: new Date(0),
            mode: 0o644,
          });
        }
        pulled.entries += batch.length;
        yield batch;
      }
      pulled.exhausted = true;
    } finally {
      pulled.onClose();
    }
  }
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'list') return list;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as StorageBackend;
}

describe('STAT of a directory, streamed', { timeout: 180_000 }, () => {
  const server = useFerry({ storageFor: () => bigDirectoryStorage(), timeouts: { stalledOutputMs: 500 } });

  for (const mode of MODES) {
    test(`${mode}: STAT of a small directory: one multi-line reply, every entry`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const r = await ftp.cmd('STAT small', 212);
        const lines = r.lines;
        assert.equal(lines[0], 'Status of /small:');
        assert.equal(lines[lines.length - 1], 'End of status.');
        assert.match(textOf(r), / 1 .* a\.txt/);
        assert.match(textOf(r), / 2 .* b\.txt/);
        await ftp.cmd('NOOP', 200); // in step
      });
    });
  }

  test('a client that stops reading stops the listing: the server does not build it whole', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      pulled.entries = 0;
      const from = server().logs.length;
      ftp.channel.pause(); // reads nothing more
      ftp.send('STAT big');
      // The server cuts a client that does not read its replies (stalledOutputMs): by then it must
      // have stopped pulling entries at the output bound, long before the end of the listing. (The
      // paused client cannot see the close; the server says it in its log.)
      await waitForLog(server(), (l) => l.msg === 'closing: the client has not read its replies', from);
      await withDeadline(pulled.closed, 10_000, 'the listing to be closed');
      assert.equal(pulled.exhausted, false, `the whole listing was pulled (${pulled.entries} entries)`);
      assert.ok(pulled.entries < (BATCHES * PER_BATCH) / 2, `pulled ${pulled.entries} entries`);
    });
  });

  test('STAT of a 4,000-entry directory: every entry arrives, in order, in one well-formed reply', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      const r = await ftp.cmd('STAT mid', 212);
      assert.equal(r.lines[0], 'Status of /mid:');
      assert.equal(r.lines[r.lines.length - 1], 'End of status.');
      assert.equal(r.lines.length, MID_BATCHES * PER_BATCH + 2);
      for (let k = 0; k < MID_BATCHES * PER_BATCH; k++) {
        const line = r.lines[k + 1] ?? '';
        assert.ok(line.endsWith(nameOf(Math.floor(k / PER_BATCH), k % PER_BATCH)), line);
      }
      assert.ok(pulled.exhausted);
      await ftp.cmd('NOOP', 200);
    });
  });
});
