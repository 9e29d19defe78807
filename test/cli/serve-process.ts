/**
 * `ferry serve` as a child process for CLI tests: loopback, free ports, its banner, and its JSON log
 * lines (from the primary and every worker) to wait on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { freePort, REPO_ROOT } from '../support/peers.js';

export const FERRY_MAIN = path.join(REPO_ROOT, 'dist/src/cli/main.js');

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
  static async start(args: readonly string[], cwd: string): Promise<ServeProcess> {
    const implicitPort = await freePort();
    const explicitPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        FERRY_MAIN,
        'serve',
        '--implicit-port',
        String(implicitPort),
        '--explicit-port',
        String(explicitPort),
        '--listen',
        '127.0.0.1',
        ...args,
      ],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const early: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => early.push(d));
    let banner = '';
    await new Promise<void>((resolve, reject) => {
      // Generous: three processes start on a busy CI machine.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`no banner: ${banner}`));
      }, 90_000);
      child.stderr?.on('data', (d: Buffer) => {
        banner += d.toString();
        if (banner.includes('Ctrl-C stops')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`ferry serve exited ${code}: ${banner}`));
      });
    });
    child.stdout?.removeAllListeners('data');
    const p = new ServeProcess(child, banner, implicitPort, explicitPort);
    for (const d of early) p.onStdout(d);
    return p;
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

/** `n` consecutive free ports on 127.0.0.1 (checked by binding them), for a --pasv-ports range. */
export async function freePortRange(n: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 30_000 + Math.floor(Math.random() * 25_000);
    const servers: net.Server[] = [];
    try {
      for (let p = min; p < min + n; p++) {
        const s = net.createServer();
        servers.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen({ host: '127.0.0.1', port: p, exclusive: true }, () => resolve());
        });
      }
      return { min, max: min + n - 1 };
    } catch {
      // taken: try another range
    } finally {
      await Promise.all(
        servers.map(
          (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
        ),
      );
    }
  }
  throw new Error(`no ${n} consecutive free ports`);
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
