import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startFerry, type TestServer } from '../support/ferry.js';
import { loggedIn, MODES, waitForLog, withClients } from './harness.js';

let ts: TestServer;
before(async () => {
  ts = await startFerry({ timeouts: { dataConnectMs: 1500 } });
});
after(async () => {
  await ts?.close();
});

for (const mode of MODES) {
  test(`${mode}: a passive port nobody connects to is closed, and the next transfer gets 425 at once`, async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, mode));
      const from = ts.logs.length;
      const port = await ftp.epsv();
      await waitForLog(
        ts,
        (l) => l.msg.startsWith('passive port closed') && (l.obj as { port?: number }).port === port,
        from,
      );
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(false)));
        s.once('error', () => resolve(true));
      });
      assert.ok(refused, 'the expired passive port still accepts connections');
      await ftp.cmd('LIST', 150);
      // Without the expiry the transfer would wait out another full dataConnectMs for a connection.
      const r = await ftp.expect(undefined, 750);
      assert.equal(r.code, 425);
    });
  });
}

test('a PASV that found every port of the range held elsewhere until its deadline gets 425, logged at warn with why', async () => {
  // Another process holds the only port (as another cluster worker would).
  const other = net.createServer();
  await new Promise<void>((resolve) =>
    other.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve),
  );
  const { port } = other.address() as net.AddressInfo;
  const held = await startFerry({
    passive: { portMin: port, portMax: port },
    timeouts: { dataConnectMs: 300 },
  });
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(held, 'implicit'));
      const from = held.logs.length;
      const r = await ftp.cmd('PASV');
      assert.equal(r.code, 425);
      const line = await waitForLog(held, (l) => l.msg.startsWith('passive port refused (425)'), from);
      assert.equal(line.level, 'warn');
      const o = line.obj as Record<string, unknown>;
      const why = { range: o.range, heldHere: o.heldHere, heldElsewhere: o.heldElsewhere, denied: o.denied };
      assert.deepEqual(why, { range: `${port}-${port}`, heldHere: 0, heldElsewhere: 1, denied: 0 });
      assert.deepEqual([o.user, o.waitedS], [held.user, 0.3]);
      assert.ok('session' in o, 'the line names the session');
    });
  } finally {
    await held.close();
    await new Promise((resolve) => other.close(resolve));
  }
});

test('an idle control connection gets 421 and is closed', async () => {
  const idle = await startFerry({ timeouts: { idleMs: 300 } });
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(idle, 'implicit'));
      const r = await ftp.expect(undefined, 5000);
      assert.equal(r.code, 421);
      assert.match(r.lines.join(' '), /idle/i);
    });
  } finally {
    await idle.close();
  }
});
