/**
 * The client against a real `ferry serve` process that is stopped and started again on its ports
 * while a command runs (test/cli/client-reconnect*.test.ts): the tree it serves, the client as a
 * child with its verbose stderr, and a file's growth watched without polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, watch, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { FERRY_MAIN, type ServeProcess } from './ferry-process.js';
import { testCertificate } from './ferry.js';

export const BIG = 3_000_000;
export const SMALL = ['f1.txt', 'f2.txt', 'f3.txt', 'f4.txt'];

export interface Setup {
  readonly dir: string;
  readonly root: string;
  readonly out: string;
  readonly ca: string;
  /** `ferry serve` arguments: one process, alice/secret, a fixed certificate, downloads at 1 MB/s. */
  readonly args: readonly string[];
}

export async function setup(t: TestContext): Promise<Setup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-reconnect-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [root, out] = [path.join(dir, 'root'), path.join(dir, 'out')];
  await mkdir(root);
  await mkdir(out);
  await writeFile(path.join(root, 'big.bin'), randomBytes(BIG));
  for (const name of SMALL) await writeFile(path.join(root, name), `${name}\n`);
  const pair = await testCertificate();
  const [ca, key, config] = ['cert.pem', 'key.pem', 'ferry.yaml'].map((f) => path.join(dir, f)) as [
    string,
    string,
    string,
  ];
  await writeFile(ca, pair.cert);
  await writeFile(key, pair.key);
  // Paced, so that the download is still under way when the server is stopped.
  await writeFile(config, 'userDefaults:\n  downloadRate: 1MB/s\n');
  const args = ['--workers', '1', '--root', root, '--user', 'alice:secret'];
  return { dir, root, out, ca, args: [...args, '--cert', ca, '--key', key, '--config', config] };
}

/** `ferry ARGS -v` in a child; `lines` gets its stderr lines as they come. */
export function client(args: readonly string[]): {
  child: ChildProcess;
  stderr: () => string;
  line: (re: RegExp) => Promise<void>;
} {
  const child = spawn(process.execPath, [FERRY_MAIN, ...args, '-v'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FERRY_PASSWORD: 'secret' },
  });
  let text = '';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    for (const w of [...waiters]) w();
  });
  const line = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!re.test(text)) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      child.once('exit', () => reject(new Error(`ferry exited before ${re}:\n${text}`)));
      check();
    });
  return { child, stderr: () => text, line };
}

/** Resolves once `file` has at least `min` bytes (watching its directory: no polling). */
export async function grown(file: string, min: number, signal: AbortSignal): Promise<void> {
  const size = async (): Promise<number> => (await stat(file).catch(() => undefined))?.size ?? 0;
  try {
    if ((await size()) >= min) return;
    for await (const _ of watch(path.dirname(file), { signal })) if ((await size()) >= min) return;
  } catch (err) {
    if (!signal.aborted) throw err; // the test ended first
  }
}

/** The flags that start a server again on `server`'s ports. */
export function samePorts(server: ServeProcess): string[] {
  return ['--implicit-port', String(server.implicitPort), '--explicit-port', String(server.explicitPort)];
}
