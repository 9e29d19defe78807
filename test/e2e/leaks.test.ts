/**
 * Shutdown and leak checks: server.close() ends the sessions still open (421) promptly, and after
 * sessions that end in every way (QUIT, vanishing mid-transfer, ABOR, refused data connections,
 * unused passive ports, open at shutdown) it leaves no socket, listener or timer behind.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import type { Logger } from '../../src/logger.js';
import { FerryServer } from '../../src/server/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { VPath } from '../../src/storage/types.js';
import { testCertificate } from '../support/ferry.js';
import { freePort } from '../support/ports.js';
import { RawFtp, withDeadline, type DataConnection } from '../support/raw-ftp.js';
import {
  assertNoLeaks,
  connectSecure,
  loggedIn,
  MODES,
  randomData,
  resourceCounts,
  startServer,
  waitForLog,
} from './harness.js';

/** Idle sessions shut down at once: close() must not take anywhere near the 10 s grace period. */
const CLOSE_DEADLINE_MS = 5_000;

test(
  'server.close() with idle sessions open: each gets 421, close() resolves promptly',
  { timeout: 60_000 },
  async () => {
    const baseline = resourceCounts();
    const ts = await startServer();
    const clients: RawFtp[] = [];
    const deafs: net.Socket[] = [];
    try {
      clients.push(await loggedIn(ts, 'explicit'));
      clients.push(await loggedIn(ts, 'implicit'));
      clients.push(await connectSecure(ts, 'implicit')); // not logged in
      const plain = await RawFtp.connect({ host: ts.host, port: ts.explicitPort, implicit: false });
      clients.push(plain);
      await plain.expect(220); // plaintext, before AUTH
      // A client that never closes its side (it ignores the server's FIN): not waited for either.
      const deaf = net.connect({ host: ts.host, port: ts.explicitPort, allowHalfOpen: true });
      deaf.on('error', () => {});
      deafs.push(deaf);
      await once(deaf, 'data'); // the 220
      // A client that connected to the implicit port and never began its handshake: nothing to say
      // to it, and not waited for (it held close() for the 10 s handshake timeout).
      const connects = ts.logs.length;
      const silent = net.connect({ host: ts.host, port: ts.implicitPort });
      silent.on('error', () => {});
      deafs.push(silent);
      await waitForLog(
        ts,
        (l) => l.msg === 'connect' && (l.obj as { mode?: string }).mode === 'implicit',
        connects,
      );
      await withDeadline(ts.close(), CLOSE_DEADLINE_MS, 'server.close() with open sessions');
      for (const c of clients) {
        assert.equal((await c.expect()).code, 421);
        await withDeadline(c.closed, c.timeoutMs, 'the server to close the session');
      }
    } finally {
      ts.server.destroy(); // if close() hung, do not keep the process alive
      await Promise.all(clients.map((c) => c.close()));
      for (const d of deafs) d.destroy();
      await ts.close();
    }
    await assertNoLeaks(baseline, 'after server.close()');
  },
);

test(
  'server.close() leaves no sockets, listeners or timers, whatever the sessions did',
  { timeout: 60_000 },
  async () => {
    const baseline = resourceCounts();
    const ts = await startServer();
    const stillOpen: RawFtp[] = [];
    try {
      await writeFile(path.join(ts.root, 'big.bin'), Buffer.alloc(20 * 1024 * 1024, 7));
      for (const mode of MODES) {
        // A clean session.
        const clean = await loggedIn(ts, mode);
        await clean.cmd('TYPE I', 200);
        await clean.store('x.bin', randomData(10_000));
        await clean.quit();

        // A client vanishing mid-upload.
        const from = ts.logs.length;
        const vanish = await loggedIn(ts, mode);
        const port = await vanish.epsv();
        const conn = await vanish.openData(port, { tls: true });
        await vanish.cmd('STOR vanish.bin', 150);
        conn.stream.write(randomData(50_000));
        await vanish.close();
        await waitForLog(
          ts,
          (l) => l.msg === 'transfer' && 'transfer' in l.obj && l.obj.transfer === 'STOR',
          from,
        );

        // ABOR of a download, a refused data connection, an unused passive port, and the session
        // left open for server.close() to end.
        const busy = await loggedIn(ts, mode);
        stillOpen.push(busy);
        await busy.cmd('TYPE I', 200);
        const p2 = await busy.epsv();
        const c2 = await busy.openData(p2, { tls: true });
        await busy.cmd('RETR big.bin', 150);
        await busy.cmd('ABOR', 426);
        await busy.expect(226);
        await busy.readAll(c2);
        const p3 = await busy.epsv();
        const refusedFrom = ts.logs.length;
        const refused = await busy.openData(p3, { tls: true, reuse: false }).catch(() => undefined);
        await waitForLog(ts, (l) => /did not resume/.test(l.msg), refusedFrom);
        if (refused) await busy.readAll(refused);
        // It offered no session, so the port is let go; the client's own listing takes another.
        const own = await busy.openData(await busy.epsv(), { tls: true });
        await busy.cmd('LIST', 150);
        await busy.readAll(own);
        await busy.expect(226);
        await busy.epsv(); // never used
      }
      assert.equal(ts.server.sessionCount, 2);
      await withDeadline(ts.close(), CLOSE_DEADLINE_MS, 'server.close() with open sessions');
      for (const c of stillOpen) {
        await withDeadline(c.closed, c.timeoutMs, 'the server to close the session at shutdown');
      }
    } finally {
      ts.server.destroy();
      await Promise.all(stillOpen.map((c) => c.close()));
      await ts.close();
    }
    assert.equal(ts.server.sessionCount, 0);
    await assertNoLeaks(baseline, 'after server.close()');
    // close() and destroy() are idempotent.
    await ts.server.close();
    ts.server.destroy();
  },
);

/** An embedder's backend whose uploads never settle, whatever their signal says. */
class DeafUploads extends MemoryStorage {
  #reached: (() => void)[] = [];

  /** Resolves when the next upload reaches write(). */
  nextWrite(): Promise<void> {
    return new Promise((resolve) => this.#reached.push(resolve));
  }

  override async write(_p: VPath, src: Readable): Promise<{ bytes: number }> {
    src.resume();
    this.#reached.shift()?.();
    return new Promise<never>(() => {});
  }
}

/** A session whose STOR has reached the deaf storage's write(), its data connection left open. */
async function hungUpload(
  ts: Awaited<ReturnType<typeof startServer>>,
  mode: (typeof MODES)[number],
  storage: DeafUploads,
): Promise<{ ftp: RawFtp; conn: DataConnection }> {
  const ftp = await loggedIn(ts, mode);
  await ftp.cmd('TYPE I', 200);
  const conn = await ftp.openData(await ftp.epsv(), { tls: true });
  const reached = storage.nextWrite();
  await ftp.cmd('STOR hung.bin', 150);
  conn.stream.write(randomData(10_000));
  await reached;
  return { ftp, conn };
}

const ABANDONED = /storage did not stop when the transfer was aborted/;

test(
  "server.close() while a storage ignores its transfer's abort: 426 and 421 after the grace period, close() resolves, nothing left open",
  { timeout: 60_000 },
  async () => {
    const baseline = resourceCounts();
    const storage = new DeafUploads();
    const ts = await startServer({ storageFor: () => storage, timeouts: { closeGraceMs: 100 } });
    const clients: RawFtp[] = [];
    try {
      for (const mode of MODES) clients.push((await hungUpload(ts, mode, storage)).ftp);
      const from = ts.logs.length;
      await withDeadline(ts.server.close(), CLOSE_DEADLINE_MS, 'server.close() with a deaf storage');
      for (const c of clients) {
        assert.equal((await c.expect()).code, 426); // the transfer, abandoned
        assert.equal((await c.expect()).code, 421);
        await withDeadline(c.closed, c.timeoutMs, 'the server to close the session');
      }
      const abandoned = ts.logs.slice(from).filter((l) => ABANDONED.test(l.msg));
      assert.equal(abandoned.length, clients.length, 'one warning per abandoned transfer');
    } finally {
      ts.server.destroy();
      await Promise.all(clients.map((c) => c.close()));
      await ts.close();
    }
    await assertNoLeaks(baseline, 'after server.close() with a deaf storage');
  },
);

test(
  'server.destroy() during a close() that waits for a deaf storage: close() resolves, the sockets are gone',
  { timeout: 60_000 },
  async () => {
    const baseline = resourceCounts();
    const storage = new DeafUploads();
    const ts = await startServer({ storageFor: () => storage, timeouts: { closeGraceMs: 600_000 } });
    const clients: RawFtp[] = [];
    try {
      const { ftp, conn } = await hungUpload(ts, 'explicit', storage);
      clients.push(ftp);
      const closing = ts.server.close();
      ts.server.destroy();
      await withDeadline(closing, CLOSE_DEADLINE_MS, 'server.close() after destroy()');
      await withDeadline(ftp.closed, ftp.timeoutMs, 'the control connection to be cut');
      await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to be cut');
      assert.ok(!ts.logs.some((l) => ABANDONED.test(l.msg)), 'destroy() blames no one');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await ts.close();
    }
    await assertNoLeaks(baseline, 'after server.destroy()');
  },
);

test('a second listen() is refused: no second pair of ports that close() would not know of', async () => {
  const baseline = resourceCounts();
  const ts = await startServer();
  try {
    const before = JSON.stringify(ts.server.address);
    await assert.rejects(ts.server.listen(), { code: 'ERR_USAGE', message: /listen\(\) was called already/ });
    assert.equal(JSON.stringify(ts.server.address), before);
  } finally {
    await ts.close();
  }
  await assertNoLeaks(baseline, 'after close()');
});

test('a listen() that fails (its second port taken) releases what it had bound: nothing serves, nothing stays open', async () => {
  const baseline = resourceCounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-fails-'));
  const blocker = net.createServer();
  try {
    const pair = await testCertificate();
    await writeFile(path.join(dir, 'cert.pem'), pair.cert);
    await writeFile(path.join(dir, 'key.pem'), pair.key);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = await freePort();
    const server = new FerryServer({
      explicit: { host: '127.0.0.1', port: free },
      implicit: { host: '127.0.0.1', port: taken },
      authenticator: new UserTable([]),
      storageFor: () => new MemoryStorage(),
      tls: { certificates: [{ certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') }] },
    });
    await assert.rejects(server.listen(), { code: 'ERR_ADDRESS_IN_USE' });
    const probe = net.connect({ host: '127.0.0.1', port: free });
    const outcome = await Promise.race([
      once(probe, 'error').then(([e]) => (e as NodeJS.ErrnoException).code),
      once(probe, 'connect').then(() => 'connected'),
    ]);
    probe.destroy();
    assert.equal(outcome, 'ECONNREFUSED', 'the explicit port bound first is released');
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
  await assertNoLeaks(baseline, 'after a failed listen()');
});

/** A server on ephemeral loopback ports (certificate files in `dir`); `onLog` sees each message. */
async function plainServer(dir: string, onLog: (msg: string) => void = () => {}): Promise<FerryServer> {
  const pair = await testCertificate();
  await writeFile(path.join(dir, 'cert.pem'), pair.cert);
  await writeFile(path.join(dir, 'key.pem'), pair.key);
  const log = (_obj: object, msg = ''): void => onLog(msg);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return new FerryServer({
    explicit: { host: '127.0.0.1', port: 0 },
    implicit: { host: '127.0.0.1', port: 0 },
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    tls: { certificates: [{ certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') }] },
    logger,
  });
}

const STOPS = {
  destroy: (s: FerryServer) => s.destroy(),
  close: (s: FerryServer) => void s.close(),
} as const;

test('listen() after close() or destroy() is refused (ERR_USAGE): nothing listens', async () => {
  const baseline = resourceCounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-after-'));
  try {
    for (const [how, stop] of Object.entries(STOPS)) {
      const server = await plainServer(dir);
      stop(server);
      await assert.rejects(
        server.listen(),
        { code: 'ERR_USAGE', message: /after close\(\) or destroy\(\)/ },
        how,
      );
      assert.deepEqual(server.address, {}, how);
      await server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await assertNoLeaks(baseline, 'after listen() on a stopped server');
});

test('close() or destroy() while listen() is starting: listen() rejects and what it had opened is closed', async () => {
  const baseline = resourceCounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-race-'));
  try {
    for (const [how, stop] of Object.entries(STOPS)) {
      // At once (listen() is loading certificates), and once its first listener is bound (SIGTERM
      // during start-up: the listener exists, listen() has not pushed it where destroy() looks).
      for (const when of ['at once', 'first listener up'] as const) {
        let server: FerryServer | undefined;
        server = await plainServer(dir, (msg) => {
          if (when === 'first listener up' && msg === 'listening' && server) {
            stop(server);
            server = undefined; // once
          }
        });
        const s = server;
        const listening = s.listen();
        if (when === 'at once') stop(s);
        await assert.rejects(listening, { code: 'ERR_CLOSED' }, `${how} ${when}`);
        await s.close();
        assert.equal(s.accepting, false);
        await assertNoLeaks(baseline, `after ${how} ${when} during listen()`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
