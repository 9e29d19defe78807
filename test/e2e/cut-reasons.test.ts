/**
 * A transfer cut by the server or by its client says why in its `transfer` log line (`reason`),
 * at warn when the server cut it, and in its 426 when the client did not do it itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccountListener } from '../../src/auth/types.js';
import type { TransferRecord } from '../../src/server/options.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { secureLogin, uploadUnderWay } from '../support/ftps-session.js';
import { loggedIn, startServer, textOf, waitForLog, withClients, type LogLine } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const transferLine = (l: LogLine): boolean => l.msg === 'transfer' && 'transfer' in l.obj;
const reasonOf = (l: LogLine): unknown => (l.obj as { reason?: unknown }).reason;

describe('why a transfer was cut', { timeout: 60_000 }, () => {
  test("a graceful stop's grace over: 426 naming it, logged at warn", async () => {
    const ts = await startServer({ timeouts: { closeGraceMs: 100 } });
    try {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, 'explicit'));
        await ftp.cmd('TYPE I', 200);
        const conn = await uploadUnderWay(ftp, 'big.bin', Buffer.alloc(64 * 1024));
        const closing = ts.server.close();
        assert.equal(textOf(await ftp.expect(426)), 'Transfer aborted: server stopping: grace period over.');
        await ftp.expect(421);
        conn.stream.destroy();
        await closing;
        const line = await waitForLog(ts, transferLine);
        assert.equal(line.level, 'warn');
        assert.equal(reasonOf(line), 'server stopping: grace period over');
      });
    } finally {
      await ts.close();
    }
  });

  test('an account removed: 426 naming it, logged at warn (the revoked-session test drives it so)', async () => {
    const table = await testUsers([{ username: 'ann', password: 'pw', home: '/tenant' }]);
    let tell: AccountListener | undefined;
    const ts = await startServer({
      authenticator: {
        authenticate: (c, signal) => table.authenticate(c, signal),
        watch: (listener) => {
          tell = listener;
          return () => (tell = undefined);
        },
      },
      storageFor: () => new MemoryStorage(),
    });
    try {
      await withClients(async (track) => {
        const login = { host: ts.host, port: ts.implicitPort, implicit: true, user: 'ann', password: 'pw' };
        const ftp = track(await secureLogin(login));
        await ftp.cmd('TYPE I', 200);
        const conn = await uploadUnderWay(ftp, 'big.bin', Buffer.alloc(64 * 1024));
        assert.ok(tell, 'the server watches the accounts');
        tell('ann', undefined, 'removed');
        assert.equal(textOf(await ftp.expect(426)), 'Transfer aborted: account removed.');
        assert.equal(textOf(await ftp.expect(421)), 'Account no longer available, closing.');
        conn.stream.destroy();
        const line = await waitForLog(ts, transferLine);
        assert.equal(line.level, 'warn');
        assert.equal(reasonOf(line), 'account removed');
      });
    } finally {
      await ts.close();
    }
  });

  test('ABOR: 426 as ever, the reason logged at info and in the onTransfer record', async () => {
    const records: TransferRecord[] = [];
    const ts = await startServer({ onTransfer: (r) => records.push(r) });
    try {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        const conn = await uploadUnderWay(ftp, 'big.bin', Buffer.alloc(64 * 1024));
        ftp.send('ABOR');
        assert.equal(textOf(await ftp.expect(426)), 'Transfer aborted.');
        await ftp.expect(226);
        conn.stream.destroy();
        const line = await waitForLog(ts, transferLine);
        assert.equal(line.level, 'info');
        assert.equal(reasonOf(line), 'ABOR by the client');
        const [record] = records;
        assert.deepEqual(
          [record?.result, record?.reply, record?.reason],
          ['aborted', 426, 'ABOR by the client'],
        );
      });
    } finally {
      await ts.close();
    }
  });
});
