// A real PostgreSQL 15 for the tests: a throwaway cluster made with initdb in a temp dir, run as
// the `postgres` system user (PostgreSQL refuses root) on a Unix socket in that dir (no TCP port),
// started and stopped by PID. scripts/setup-postgres.sh installs the binaries.
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
const USER = 'postgres';

async function asPostgres(args: string[]): Promise<string> {
  const { stdout } = await run('runuser', ['-u', USER, '--', ...args], { timeout: 120_000 });
  return stdout;
}

async function uidGid(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', USER]);
  const { stdout: g } = await run('id', ['-g', USER]);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

export class TestPostgres {
  private pid: number | undefined;

  private constructor(readonly dir: string) {}

  get data(): string {
    return path.join(this.dir, 'data');
  }

  /** `postgresql://…` for node-postgres: the socket directory as host, database `postgres`. */
  get url(): string {
    return `postgresql://ferry@${encodeURIComponent(this.dir)}/postgres`;
  }

  /** initdb and start. */
  static async create(): Promise<TestPostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pg-'));
    const { uid, gid } = await uidGid();
    await chown(dir, uid, gid);
    const pg = new TestPostgres(dir);
    await asPostgres([
      `${BIN}/initdb`,
      '-D',
      pg.data,
      '-U',
      'ferry',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--no-sync',
      '--no-instructions',
    ]);
    // Only the socket in the temp dir; durability is not what these tests are about.
    await writeFile(
      path.join(pg.data, 'postgresql.auto.conf'),
      `listen_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n`,
    );
    await chown(path.join(pg.data, 'postgresql.auto.conf'), uid, gid);
    await pg.start();
    return pg;
  }

  /** Starts the server (again) and waits until it accepts connections. */
  async start(): Promise<void> {
    await asPostgres([
      `${BIN}/pg_ctl`,
      '-D',
      this.data,
      '-l',
      path.join(this.dir, 'log'),
      '-w',
      '-s',
      'start',
    ]);
    const pidFile = await readFile(path.join(this.data, 'postmaster.pid'), 'utf8');
    this.pid = Number(pidFile.split('\n')[0]);
  }

  /** Stops the server by its PID (fast shutdown: sessions are cut) and waits until it is gone. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.pid = undefined;
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return;
    }
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server and removes the cluster. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
