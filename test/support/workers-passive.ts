/**
 * `ferry serve --workers 2` over a small passive range, users `a` and `b` (passwords `pw-a`, `pw-b`),
 * `file.bin` (16 KiB) in its root, debug logs: the set-up of the worker-mode passive port tests.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { secureLogin } from './ftps-session.js';
import { ServeProcess } from './ferry-process.js';
import type { RawFtp } from './raw-ftp.js';

export const CONTENT = Buffer.alloc(16 * 1024, 'x');

export interface PassiveWorkers {
  readonly r: ServeProcess;
  /** A session logged in as `user` on the implicit port (closed by stop()). */
  login(user: 'a' | 'b'): Promise<RawFtp>;
  /** Closes the sessions, stops the server (asserting exit 0) and removes its files. */
  stop(): Promise<void>;
}

export async function startPassiveWorkers(
  range: { min: number; max: number },
  connectWaitS: number,
): Promise<PassiveWorkers> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-passive-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'file.bin'), CONTENT);
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    `passivePorts: ${range.min}-${range.max}\ndataConnectTimeoutSeconds: ${connectWaitS}\nlogLevel: debug\n`,
  );
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'data')].concat([
      '--user',
      'a:pw-a',
      '--user',
      'b:pw-b',
    ]),
    root,
  );
  const sessions: RawFtp[] = [];
  return {
    r,
    login: async (user) => {
      const ftp = await secureLogin({
        host: '127.0.0.1',
        port: r.implicitPort,
        implicit: true,
        user,
        password: `pw-${user}`,
      });
      sessions.push(ftp);
      return ftp;
    },
    stop: async () => {
      await Promise.all(sessions.map((s) => s.close()));
      assert.equal(await r.stop(), 0);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The data connection to `port`, RETR file.bin: its bytes, after 226. */
export async function retrieveOn(ftp: RawFtp, port: number): Promise<Buffer> {
  const conn = await ftp.openData(port, { tls: true });
  await ftp.cmd('RETR file.bin', 150);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  return data;
}
