// A real PostgreSQL 15 for the tests: a throwaway cluster made with initdb in a temp dir, run as
// the `postgres` system user (PostgreSQL refuses root) on a Unix socket in that dir (no TCP port),
// started and stopped by PID. scripts/setup-postgres.sh installs the binaries.
// scripts/test.sh starts one cluster for the whole run (shared-postgres.ts) and names its directory
// in FERRY_TEST_POSTGRES: create() then makes a database of its own on it for each suite instead of a
// cluster (initdb and start: ~1.35 s of CPU each). A suite that stops or starts the server asks for
// its own (`own`); a file run by hand, without the variable, makes its own too.
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
const USER = 'postgres';
export const SHARED_POSTGRES_ENV = 'FERRY_TEST_POSTGRES';
let databases = 0;

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

  /** `database` is the suite's own on the shared cluster, else `postgres` on a cluster of its own. */
  private constructor(
    readonly dir: string,
    private readonly database?: string,
  ) {}

  get data(): string {
    return path.join(this.dir, 'data');
  }

  /** `postgresql://…` for node-postgres: the socket directory as host, the suite's database. */
  get url(): string {
    return this.urlOf(this.databaseName);
  }

  /** The suite's database (`postgres` on a cluster of its own). */
  get databaseName(): string {
    return this.database ?? 'postgres';
  }

  /** The URL of another database on the same server. */
  urlOf(database: string): string {
    return `postgresql://ferry@${encodeURIComponent(this.dir)}/${database}`;
  }

  /** A database of its own on the run's shared cluster, or (`own`, or none shared) initdb and start. */
  static async create(opts: { own?: boolean; maxConnections?: number } = {}): Promise<TestPostgres> {
    const shared = process.env[SHARED_POSTGRES_ENV];
    if (shared !== undefined && shared !== '' && opts.own !== true) {
      const pg = new TestPostgres(shared, `suite_${process.pid}_${++databases}`);
      await pg.admin(`CREATE DATABASE ${pg.database}`);
      return pg;
    }
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
      `listen_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = ${opts.maxConnections ?? 100}\n`,
    );
    await chown(path.join(pg.data, 'postgresql.auto.conf'), uid, gid);
    await pg.start();
    return pg;
  }

  /** A statement on the `postgres` database (as `ferry`, the superuser). */
  private async admin(sql: string): Promise<void> {
    await run(`${BIN}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', this.urlOf('postgres'), '-c', sql], {
      timeout: 120_000,
    });
  }

  /** Starts the server (again) and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.database !== undefined) throw new Error('the shared cluster: create({ own: true }) to start it');
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
    await this.readPid();
  }

  private async readPid(): Promise<void> {
    const pidFile = await readFile(path.join(this.data, 'postmaster.pid'), 'utf8');
    this.pid = Number(pidFile.split('\n')[0]);
  }

  /** The running cluster another process made in `dir` (create({ own: true })), to stop or destroy. */
  static async ofDir(dir: string): Promise<TestPostgres> {
    const pg = new TestPostgres(dir);
    await pg.readPid();
    return pg;
  }

  /** Stops the server by its PID (fast shutdown: sessions are cut) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.database !== undefined) throw new Error('the shared cluster: create({ own: true }) to stop it');
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

  /** Stops the server and removes the cluster (on the shared one: drops the suite's database). */
  async destroy(): Promise<void> {
    if (this.database !== undefined) return this.admin(`DROP DATABASE ${this.database} WITH (FORCE)`);
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface Closable {
  close(): Promise<void>;
}

/** What a test file's cluster holds for it; read it once its `before` hook ran. */
export interface PostgresFixture {
  readonly pg: TestPostgres;
  /** An empty temp directory, removed after. */
  readonly dir: string;
}

/**
 * The set-up of a test file (or suite) on a real PostgreSQL: registers the `before` that makes a
 * cluster (a database on the run's shared one unless `own`: see above) and a temp directory named `prefix…`, then calls `setUp` (in the same hook: top-level
 * `before` hooks do not wait for each other), and the `after` that closes what `setUp` returned
 * before the cluster stops (a pool open on a stopped server errs), then removes both.
 */
export function usePostgres(
  prefix: string,
  setUp?: (pg: TestPostgres, dir: string) => Promise<Closable | void>,
  opts: { own?: boolean } = {},
): PostgresFixture {
  let pg: TestPostgres | undefined;
  let dir: string | undefined;
  let opened: Closable | void;
  before(async () => {
    pg = await TestPostgres.create(opts);
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    opened = await setUp?.(pg, dir);
  });
  after(async () => {
    await opened?.close();
    await pg?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('usePostgres: read before its before hook ran');
    return value;
  };
  return {
    get pg() {
      return ready(pg);
    },
    get dir() {
      return ready(dir);
    },
  };
}
