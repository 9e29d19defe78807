/**
 * A command cut by timeouts.commandMs (its storage never answers) is told `421 … did not finish`,
 * then the server closes (close_notify, FIN) and the session ends then, though the client keeps its
 * socket open: it holds no place under maxSessions, so the next login is let in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { warmedUsers } from '../support/ferry.js';
import { withDeadline } from '../support/raw-ftp.js';
import { connectKeepingOpen, connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';

// PASS is bounded by the command time limit too: no scrypt within its 0.4 s.
const warm = await warmedUsers();
const COMMAND_MS = 400;
/** Bounds waits on events that come at once when the server does its part. */
const EVENT_MS = 5_000;

/** MKD never settles: a backend that hangs. */
class HungMkdir extends MemoryStorage {
  override mkdir(_p: VPath, _c: StorageContext): Promise<void> {
    return new Promise<void>(() => {});
  }
}

// A server per mode: with maxSessions 1, a session of the other mode's test may still be leaving.
for (const mode of MODES) {
  describe(`${mode}: the command time limit`, { timeout: 60_000 }, () => {
    const storage = new HungMkdir();
    const server = useFerry({
      limits: { maxSessions: 1 },
      authenticator: warm,
      timeouts: { commandMs: COMMAND_MS },
      storageFor: () => storage,
    });

    test('421 says so, the server closes first, and the session no longer counts (maxSessions 1)', async () => {
      const ts = server();
      await withClients(async (track) => {
        const stuck = track(await connectKeepingOpen(ts, mode));
        const fin = once(stuck.socket, 'end');
        await stuck.login(ts.user, ts.password);
        stuck.send('MKD never');
        const r = await stuck.expect(421, COMMAND_MS + EVENT_MS);
        assert.equal(textOf(r), `MKD did not finish in ${COMMAND_MS / 1000} s; closing control connection.`);
        // Told it is a close, not a cut: close_notify, then FIN; the client has closed nothing.
        await withDeadline(stuck.peerEndedTls, EVENT_MS, "the server's close_notify after the 421");
        await withDeadline(fin, EVENT_MS, "the server's FIN after the 421");
        assert.ok(!stuck.socket.destroyed, 'the client still holds its socket');

        const next = track(await connectSecure(ts, mode));
        await next.login(ts.user, ts.password);
      });
    });
  });
}
