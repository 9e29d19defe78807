/**
 * Connections `ferry serve` turns away at accept (421 on the explicit port) cost it nothing once
 * the client is gone, or after a short linger if the client never closes: in worker mode, where the
 * primary refuses sockets it never reads, and in one process.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { ServeProcess } from '../support/ferry-process.js';
import { openFdCount } from '../support/proc.js';

const REFUSALS = 400;
/** Descriptors the server may open meanwhile for other reasons. */
const SLACK = 8;

let dir: string;
let root: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-refusals-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  config = path.join(dir, 'ferry.yaml');
  // One session per address: every connection after the held one is refused (not scored).
  await writeFile(config, 'maxSessionsPerAddress: 1\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Connects to the explicit port and reads what the server says until it closes its side. `hold`:
 * the client never closes (the socket is returned open); else it closes in turn, as clients do.
 */
async function refused(port: number, hold: boolean): Promise<{ text: string; socket: net.Socket }> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: hold });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await withDeadline(
    new Promise<void>((resolve) => {
      socket.once('end', resolve);
      socket.once('close', resolve);
    }),
    10_000,
    "the server's 421 and FIN",
  );
  return { text, socket };
}

/** Waits (bounded) until `pid` holds at most `most` descriptors; returns how many it holds. */
async function fdsDownTo(pid: number, most: number): Promise<number> {
  for (let i = 0; i < 200 && openFdCount(pid) > most; i++) await delay(50);
  return openFdCount(pid);
}

for (const workers of ['2', '1']) {
  test(`--workers ${workers}: refused connections on the explicit port get their 421 and leave no descriptor behind, whether the client closes or not`, async () => {
    const r = await ServeProcess.start(
      [
        '--workers',
        workers,
        '--config',
        config,
        '--user',
        'a:pw-a',
        '--data-dir',
        path.join(dir, `d${workers}`),
      ],
      root,
    );
    const pid = r.child.pid ?? 0;
    const held = await RawFtp.connect({ host: '127.0.0.1', port: r.explicitPort, implicit: false });
    const open: net.Socket[] = [];
    try {
      await held.expect(220);
      const baseline = openFdCount(pid);

      for (let done = 0; done < REFUSALS; done += 20) {
        const wave = await Promise.all([...Array(20)].map(() => refused(r.explicitPort, false)));
        for (const { text } of wave) assert.match(text, /^421 Too many connections/);
      }
      const afterClosed = await fdsDownTo(pid, baseline + SLACK);
      assert.ok(afterClosed <= baseline + SLACK, `${afterClosed} descriptors, ${baseline} before`);

      // Clients that read the 421 and never close: their sockets are let go after a short linger.
      for (let i = 0; i < 50; i++) {
        const { text, socket } = await refused(r.explicitPort, true);
        open.push(socket);
        assert.match(text, /^421 Too many connections/);
      }
      const afterHeld = await fdsDownTo(pid, baseline + SLACK);
      assert.ok(afterHeld <= baseline + SLACK, `${afterHeld} descriptors, ${baseline} before`);
      assert.ok(
        open.every((s) => !s.destroyed),
        'the clients still hold their connections',
      );

      // The held session was served all along.
      await held.cmd('NOOP', 200);
    } finally {
      for (const s of open) s.destroy();
      await held.close();
      assert.equal(await r.stop(), 0);
    }
  });
}
