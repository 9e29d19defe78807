/**
 * A real HAProxy (Debian's, installed by scripts/setup-haproxy.sh) in TCP mode in front of Ferry,
 * with the test's own config, on loopback: started in master-worker foreground mode, ready once
 * it says "Loading success." (its listeners are bound before that), stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withDeadline } from './raw-ftp.js';

/** Where HAProxy listens (clients connect here); its connections to Ferry come from this address too. */
export const PROXY_HOST = '127.0.0.20';

export interface Frontend {
  /** `port`, or `min-max` for a passive range proxied port by port. */
  readonly ports: string;
  /** Ferry's address, with `:port` (omitted: the port the client connected to, as for a range). */
  readonly server: string;
  readonly proxy: 'send-proxy' | 'send-proxy-v2';
}

export class Haproxy {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly stderr: string[],
  ) {}

  static start(frontends: readonly Frontend[]): Promise<Haproxy> {
    return Haproxy.withSections(frontendSections(frontends));
  }

  /** HAProxy with the common `global` and `defaults` sections followed by `listen` sections of the caller's. */
  static async withSections(listen: string): Promise<Haproxy> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-haproxy-'));
    const cfg = path.join(dir, 'haproxy.cfg');
    await writeFile(cfg, `${HEAD}${listen}`);
    const child = spawn('haproxy', ['-W', '-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr.push(d.toString());
        if (stderr.join('').includes('Loading success.')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`haproxy exited ${code}: ${stderr.join('')}`)));
    });
    const h = new Haproxy(child, dir, stderr);
    try {
      await withDeadline(ready, 30_000, 'haproxy to start');
    } catch (err) {
      await h.stop();
      throw err;
    }
    return h;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await withDeadline(exited, 30_000, 'haproxy to exit');
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

const HEAD = [
  'global',
  '  maxconn 512',
  // Without it HAProxy binds with SO_REUSEPORT, and a port some other test's HAProxy holds too is
  // shared silently, the kernel handing connections to either: a collision must fail the start.
  '  noreuseport',
  'defaults',
  '  mode tcp',
  '  timeout connect 5s',
  '  timeout client 120s',
  '  timeout server 120s',
  '',
].join('\n');

/** One `listen` section per frontend, each to its one server (named `ftp0`, `ftp1`, … or `<prefix>0`, …). */
export function frontendSections(frontends: readonly Frontend[], prefix = 'ftp'): string {
  const lines: string[] = [];
  frontends.forEach((f, i) => {
    lines.push(
      `listen ${prefix}${i}`,
      `  bind ${PROXY_HOST}:${f.ports}`,
      `  server ferry ${f.server} ${f.proxy} source ${PROXY_HOST}`,
    );
  });
  return `${lines.join('\n')}\n`;
}

/** A node behind the balancer: the control port a section forwards to and its admin port (/healthz). */
export interface BalancedNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
}

/**
 * A `listen` section spreading the connections to `front` round robin over `nodes`, each with a
 * PROXY v2 header, from PROXY_HOST, and checked on its /healthz (down after two failed checks 200 ms
 * apart, up again after two good ones).
 */
export function balancedSection(name: string, front: number, nodes: readonly BalancedNode[]): string {
  return [
    `listen ${name}`,
    `  bind ${PROXY_HOST}:${front}`,
    '  balance roundrobin',
    '  option httpchk GET /healthz',
    '  default-server inter 200ms fall 2 rise 2',
    ...nodes.map(
      (n) =>
        `  server ${n.name} ${n.host}:${n.port} send-proxy-v2 check port ${n.adminPort} source ${PROXY_HOST}`,
    ),
    '',
  ].join('\n');
}
