/**
 * `ferry serve` as a separate process, for tests that measure what the server process does with
 * its memory (RSS from /proc/PID/status) or its standard output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { ReplyParser } from '../../src/protocol/reply-parser.js';
import { withDeadline } from './raw-ftp.js';
import { testCertificate } from './ferry.js';
import { freePort, REPO_ROOT } from './peers.js';

const MAIN = path.join(REPO_ROOT, 'dist/src/cli/main.js');

export interface FerryProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly host: '127.0.0.1';
  readonly implicitPort: number;
  readonly explicitPort: number;
  readonly root: string;
  readonly user: 'alice';
  readonly password: 'secret';
  /** The CA a client trusts to reach it (its self-signed certificate). */
  readonly ca: string;
  /** The server's standard output, when started with `stdout: 'pipe'` (nobody reads it until asked). */
  readonly stdout: Readable | null;
  /** Resident set size now, in bytes. */
  rss(): Promise<number>;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s), remove the temp files. */
  stop(): Promise<void>;
}

/** Starts `ferry serve` on loopback ports with user alice/secret and a temp root; waits for its banner. */
export async function spawnFerry(
  opts: { args?: readonly string[]; stdout?: 'ignore' | 'pipe' } = {},
): Promise<FerryProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-proc-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  const pair = await testCertificate();
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key);
  const implicitPort = await freePort();
  const explicitPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'serve',
      ...['--listen', '127.0.0.1', '--root', root, '--user', 'alice:secret'],
      ...['--implicit-port', String(implicitPort), '--explicit-port', String(explicitPort)],
      ...['--cert', certFile, '--key', keyFile, '--data-dir', path.join(dir, 'data')],
      ...(opts.args ?? []),
    ],
    { cwd: dir, stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'] },
  );
  const exited = once(child, 'exit');
  try {
    await bannerOf(child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = child.pid ?? 0;
  return {
    child,
    pid,
    host: '127.0.0.1',
    implicitPort,
    explicitPort,
    root,
    user: 'alice',
    password: 'secret',
    ca: pair.cert,
    stdout: child.stdout,
    rss: () => rssOf(pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** VmRSS of a process, in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * Implicit FTPS, not logged in: sends `chunk` `times` times back to back (pipelined), reads every
 * reply and resolves once `replies` replies (besides the greeting) have come.
 */
export async function pipelined(
  port: number,
  chunk: Buffer,
  times: number,
  replies: number,
  ms = 120_000,
): Promise<void> {
  const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  try {
    await once(sock, 'secureConnect');
    const parser = new ReplyParser();
    let got = 0;
    const all = new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => {
        got += parser.push(d).length;
        if (got === replies + 1) resolve();
      });
      sock.once('close', () => reject(new Error(`closed after ${got} replies`)));
    });
    for (let i = 0; i < times; i++) if (!sock.write(chunk)) await once(sock, 'drain');
    await withDeadline(all, ms, `${replies} replies`);
  } finally {
    sock.destroy();
  }
}

/** Resolves once `ferry serve` has printed its banner (on standard error); rejects if it exits first. */
export function bannerOf(child: ChildProcess, ms = 30_000): Promise<string> {
  let banner = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${banner}`)), ms);
    child.stderr?.on('data', (d: Buffer) => {
      banner += d.toString();
      if (banner.includes('Ctrl-C stops')) {
        clearTimeout(timer);
        resolve(banner);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry serve exited ${code}: ${banner}`));
    });
  });
}
