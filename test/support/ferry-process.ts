/**
 * `ferry serve` as a separate process: spawnFerry() for tests that measure what the server process
 * does with its memory (RSS from /proc/PID/status) or its standard output; ServeProcess for CLI
 * tests (flags, banner, JSON log lines from the primary and every worker, signals).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { ReplyParser } from '../../src/protocol/reply-parser.js';
import { RawFtp, withDeadline } from './raw-ftp.js';
import { testCertificate } from './ferry.js';
import { REPO_ROOT } from './peers.js';
import { freePorts } from './ports.js';
import { rssOf } from './proc.js';
import { TEST_HASH_ENV } from './test-hashes.js';

export const FERRY_MAIN = path.join(REPO_ROOT, 'dist/src/cli/main.js');

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
  opts: {
    args?: readonly string[];
    stdout?: 'ignore' | 'pipe';
    /** Added to the environment (NODE_OPTIONS, …). */
    env?: Readonly<Record<string, string>>;
    /** A config file's YAML (`--config`); the flags above still win. */
    config?: string;
  } = {},
): Promise<FerryProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-proc-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  const pair = await testCertificate();
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key);
  const configFile = path.join(dir, 'ferry.yaml');
  if (opts.config !== undefined) await writeFile(configFile, opts.config);
  const start = async (): Promise<{ child: ChildProcess; implicitPort: number; explicitPort: number }> => {
    const { implicitPort, explicitPort, argv } = await serveArgv();
    const child = spawn(
      process.execPath,
      [
        ...argv,
        // One process, so that the pid measured is the one serving (opts.args may override it).
        ...['--workers', '1', '--root', root, '--user', 'alice:secret'],
        ...['--cert', certFile, '--key', keyFile, '--data-dir', path.join(dir, 'data')],
        ...(opts.config !== undefined ? ['--config', configFile] : []),
        ...(opts.args ?? []),
      ],
      {
        cwd: dir,
        stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'],
        env: { ...process.env, ...TEST_HASH_ENV, HOME: dir, ...opts.env },
      },
    );
    try {
      await bannerOf(child);
      return { child, implicitPort, explicitPort };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  };
  const { child, implicitPort, explicitPort } = await retryPortClash(start).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const exited = once(child, 'exit'); // awaited by stop() only while the child runs
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

/** Runs `ferry users ARGS --data-dir DATA`, with `input` on stdin (else no stdin: not a terminal). */
export function ferryUsers(
  data: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry(['users', ...args, '--data-dir', data], input);
}

/**
 * `ferry …` (any subcommand) to its exit: the exit code and what it wrote; `env` adds variables (to
 * TEST_HASH_ENV: the hashes it makes are the tests' cheap ones).
 */
export async function runFerry(
  args: readonly string[],
  input?: string,
  env?: Readonly<Record<string, string>>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [FERRY_MAIN, ...args], {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...TEST_HASH_ENV, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/** `ferry …` that must succeed (else throws with its stderr): its output. */
export async function ferryOk(
  args: readonly string[],
  input?: string,
  env?: Readonly<Record<string, string>>,
): Promise<string> {
  const r = await runFerry(args, input, env);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** How many sets of free ports a server start tries before giving up on EADDRINUSE. */
const START_ATTEMPTS = 4;

/**
 * A port found free a moment ago can be taken before the server binds it (by another test, or by
 * another server started at the same time that was given the same port): `start` again, with new ports.
 */
async function retryPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt === START_ATTEMPTS || !(err instanceof Error) || !err.message.includes('EADDRINUSE'))
        throw err;
    }
  }
}

/** `node` arguments of `ferry serve` on 127.0.0.1 with two ports that were free a moment ago. */
export async function serveArgv(): Promise<{ implicitPort: number; explicitPort: number; argv: string[] }> {
  const [implicitPort, explicitPort] = (await freePorts(2)) as [number, number];
  const ports = ['--implicit-port', String(implicitPort), '--explicit-port', String(explicitPort)];
  // The tests run as root (the test setup installs packages): serving as root must be asked for.
  const argv = [FERRY_MAIN, 'serve', '--allow-root', '--listen', '127.0.0.1', ...ports];
  return { implicitPort, explicitPort, argv };
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

/** One pino log line. */
export interface LogLine {
  readonly msg?: string;
  readonly pid?: number;
  readonly [key: string]: unknown;
}

interface LogWaiter {
  readonly match: (l: LogLine) => boolean;
  readonly resolve: (l: LogLine) => void;
}

export class ServeProcess {
  readonly log: LogLine[] = [];
  /** Standard output's lines as the server wrote them (`log` holds those that parse). */
  readonly lines: string[] = [];
  private readonly waiters = new Set<LogWaiter>();
  private pending = '';

  private constructor(
    readonly child: ChildProcess,
    readonly banner: string,
    readonly implicitPort: number,
    readonly explicitPort: number,
  ) {
    child.stdout?.on('data', (d: Buffer) => this.onStdout(d));
  }

  /** Starts `ferry serve` and resolves once its banner is complete (the line saying how to stop it). */
  static async start(
    args: readonly string[],
    cwd: string,
    /** A command that runs node with the rest of its arguments (e.g. prlimit --nofile=…). */
    wrapper: readonly string[] = [],
  ): Promise<ServeProcess> {
    return retryPortClash(
      async () => (await ServeProcess.startWhile(args, cwd, async () => undefined, wrapper)).server,
    );
  }

  /**
   * Servers started side by side: all of them, or none (those that did start are killed when one
   * fails, so that no server outlives a failed test set-up).
   */
  static async all<const T extends readonly Promise<ServeProcess>[]>(
    starts: T,
  ): Promise<{ -readonly [K in keyof T]: ServeProcess }> {
    const settled = await Promise.allSettled(starts);
    const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return started as { -readonly [K in keyof T]: ServeProcess };
    for (const server of started) await server.stop('SIGKILL');
    throw failed.reason;
  }

  /**
   * Starts `ferry serve` and runs `meanwhile` with its ports (and its process) at once, while it
   * starts; resolves with the server once its banner is complete and with what `meanwhile` resolved to.
   */
  static async startWhile<T>(
    args: readonly string[],
    cwd: string,
    meanwhile: (ports: { implicitPort: number; explicitPort: number; child: ChildProcess }) => Promise<T>,
    wrapper: readonly string[] = [],
  ): Promise<{ server: ServeProcess; result: T }> {
    const { implicitPort, explicitPort, argv } = await serveArgv();
    // Its own HOME: the default data directory (~/.ferry: bans, certificates) is never shared with
    // another test's server, nor left in the real home (a ban of 127.0.0.1 there refused later tests).
    const home = await mkdtemp(path.join(os.tmpdir(), 'ferry-home-'));
    const [command, ...before] = [...wrapper, process.execPath];
    const child = spawn(command ?? process.execPath, [...before, ...argv, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...TEST_HASH_ENV, HOME: home },
    });
    child.once('exit', () => void rm(home, { recursive: true, force: true }));
    const early: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => early.push(d));
    let banner: string;
    let result: T;
    try {
      // generous: one process per core starts on a busy machine
      [banner, result] = await Promise.all([
        bannerOf(child, 90_000),
        meanwhile({ implicitPort, explicitPort, child }),
      ]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    child.stdout?.removeAllListeners('data');
    const p = new ServeProcess(child, banner, implicitPort, explicitPort);
    for (const d of early) p.onStdout(d);
    return { server: p, result };
  }

  /** The worker PIDs the banner lists. */
  get workerPids(): number[] {
    const m = /workers\s+\d+ processes \(pids ([\d, ]+)\)/.exec(this.banner);
    return m?.[1]?.split(', ').map(Number) ?? [];
  }

  /** The first log line (already written or still to come) that matches; bounded wait. */
  waitForLog(match: (l: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.log.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: LogWaiter = {
        match,
        resolve: (l) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no log line: ${what}\n${this.log.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /**
   * SIGKILLs the first worker and resolves with its replacement's first outcome: 'worker ready', or
   * its own exit (then `msg` says so). `from`: the log index at the kill. A first worker's own
   * 'worker ready' is never taken for it (log lines on stdout may come after the banner on stderr).
   */
  async killWorker(): Promise<{ outcome: LogLine; from: number }> {
    const originals = this.workerPids;
    const [victim] = originals;
    if (victim === undefined) throw new Error(`no worker in the banner:\n${this.banner}`);
    const from = this.log.length;
    process.kill(victim, 'SIGKILL');
    const outcome = await this.waitForLog(
      (l) =>
        this.log.indexOf(l) >= from &&
        l.worker !== undefined &&
        ((l.msg === 'worker ready' && !originals.includes(Number(l.workerPid))) ||
          (l.msg === 'worker exited; restarting it' && l.signal !== 'SIGKILL')),
      'the replacement worker ready or exited',
    );
    return { outcome, from };
  }

  /** The PIDs of the processes that logged `user` in from log index `from` on, once there are `n`. */
  async loginPids(user: string, from: number, n: number): Promise<number[]> {
    const logins = (): LogLine[] => this.log.slice(from).filter((l) => l.msg === 'login' && l.user === user);
    await this.waitForLog(() => logins().length >= n, `${n} logins of ${user}`);
    return logins().map((l) => Number(l.pid));
  }

  /** The PID of the process that logged `user` in (the worker serving that session). */
  async pidOfLogin(user: string): Promise<number> {
    const l = await this.waitForLog((x) => x.msg === 'login' && x.user === user, `login of ${user}`);
    return Number(l.pid);
  }

  /** SIGTERM (graceful), then the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit') as Promise<[number | null]>;
    this.child.kill(signal);
    const [code] = await exited;
    return code;
  }

  private onStdout(d: Buffer): void {
    const lines = (this.pending + d.toString()).split('\n');
    this.pending = lines.pop() ?? '';
    for (const text of lines) {
      this.lines.push(text);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      this.log.push(line);
      for (const w of [...this.waiters]) if (w.match(line)) w.resolve(line);
    }
  }
}

/** Whether a process with this PID exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A logged-in implicit session in TYPE I (password `pw-USER`), held open by the caller. */
export async function implicitSession(r: ServeProcess, user: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login(user, `pw-${user}`);
  await ftp.cmd('TYPE I', 200);
  return ftp;
}
