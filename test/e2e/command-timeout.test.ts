/**
 * A storage call that never answers (an embedder's MKD stuck on a dead backend) must not hold the
 * session forever: after `timeouts.commandMs` the session ends with 421, its QUIT queued behind the
 * command gets that answer instead of waiting, the session's counters are released (the server's
 * leak check after the suite), and other sessions go on. HASH and SIZE in TYPE A, which read while they
 * run, are not cut.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileSource, StorageContext, VPath } from '../../src/storage/types.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

const COMMAND_MS = 400;
const SLOW_CHUNKS = 12;

/** MKD never settles; `slow.bin` is read a chunk per COMMAND_MS / 4, three periods in all. */
class StuckStorage extends MemoryStorage {
  override mkdir(): Promise<void> {
    return new Promise<void>(() => {});
  }

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    if (!p.endsWith('/slow.bin')) return super.openRead(p, o, c);
    let sent = 0;
    return Readable.from(
      (async function* () {
        while (sent++ < SLOW_CHUNKS) {
          await new Promise((resolve) => setTimeout(resolve, COMMAND_MS / 4));
          yield Buffer.alloc(1024, 1);
        }
      })(),
    ) as FileSource;
  }
}

describe('a command whose storage call never answers', { timeout: 60_000 }, () => {
  const storage = new StuckStorage();
  const server = useFerry({ storageFor: () => storage, timeouts: { commandMs: COMMAND_MS } });

  test('MKD: 421 once timeouts.commandMs has passed, QUIT queued behind it does not wait forever; other sessions go on', async () => {
    await withClients(async (track) => {
      const other = track(await loggedIn(server(), 'explicit'));
      const stuck = track(await loggedIn(server(), 'implicit'));
      const from = server().logs.length;
      stuck.send('MKD dir');
      stuck.send('QUIT');
      const r = await stuck.expect(421, COMMAND_MS * 20);
      assert.match(textOf(r), /MKD did not finish in 0\.4 s/);
      const line = await waitForLog(
        server(),
        (l) => l.msg === 'command did not finish in time: closing',
        from,
      );
      assert.equal(line.level, 'warn');
      assert.equal((line.obj as { command?: string }).command, 'MKD');
      await other.cmd('NOOP', 200);
      await other.cmd('PWD', 257);
    });
  });

  test('HASH, and SIZE in TYPE A, of a file read over three periods are not cut while they read', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('slow.bin', Buffer.alloc(SLOW_CHUNKS * 1024, 1));
      const r = await ftp.cmd('HASH slow.bin');
      assert.equal(r.code, 213, textOf(r));
      await ftp.cmd('TYPE A', 200);
      assert.equal(textOf(await ftp.cmd('SIZE slow.bin', 213)), String(SLOW_CHUNKS * 1024));
      await ftp.cmd('NOOP', 200);
    });
  });
});
