/**
 * Real FTPS servers from Debian packages, started per test on 127.0.0.1 with an ephemeral port and a
 * temporary directory, and stopped (by PID) afterwards:
 *
 *   vsftpd 3.0.3 (apt), ProFTPD 1.3.8 + mod_tls and Pure-FTPd 1.0.50 (unpacked into .peers/),
 *   pyftpdlib 1.5.7 (apt, Debian's /usr/bin/python3).
 *
 * Install them with `bash scripts/setup-peers.sh` (as root). A start function resolves once the server
 * answers its 220 greeting, carrying a per-instance token, on its port (implicit: after a TLS
 * handshake), polling with a bounded deadline; it throws an Error naming the peer with its log tail
 * otherwise. Each server runs under test/support/peer_supervisor.py (a child subreaper in its own
 * process group). stop() terminates the server and its session processes (the group and the
 * descendants, by PID), waits until they are gone and removes the temporary directory. Should a test
 * forget stop(), an 'exit' hook kills the remaining peers; should the test process die, the supervisor
 * sees its stdin close and cleans up.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';

import { childEnv, SUPPORT_DIR } from './clients.js';
import { freePort } from './ports.js';
import { processTree, readStat, type ProcStat } from './proc.js';

export type PeerName = 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib';

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** Key and certificate in one PEM file. */
  readonly pemFile: string;
}

/** A running server. Structurally an FtpsTarget (clients.ts), so it can be passed to the clients. */
export interface FtpsPeer {
  readonly name: PeerName;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Host directory the user sees as "/" (writable by the server's user). */
  readonly root: string;
  readonly implicit: boolean;
  /** The server's PID (its supervisor's child). */
  readonly pid: number;
  /** The uid/gid the server uses for the user's files. */
  readonly owner: { readonly uid: number; readonly gid: number };
  /** Temporary directory with the configuration, certificate, logs and `root`; removed by stop(). */
  readonly dir: string;
  readonly certificate: TestCertificate;
  /** The greeting the server answered the readiness probe with. */
  readonly greeting: string;
  /** Writes a file under root (parents created) owned by the server's user; returns its host path. */
  putFile(relativePath: string, data: string | Uint8Array): Promise<string>;
  /** Captured stdout/stderr and the server's log files. */
  logs(): Promise<string>;
  /** Idempotent: terminates the server and its children, waits for them, removes `dir`. */
  stop(): Promise<void>;
}

export interface CommonPeerOptions {
  /** Deadline for the server to answer its greeting; default 20 000 ms. */
  readonly readyTimeoutMs?: number;
  /** Reuse a certificate (its files are not removed by stop()); default: a new one in the peer's dir. */
  readonly certificate?: TestCertificate;
}

export const REPO_ROOT = path.resolve(SUPPORT_DIR, '..', '..');
export const PEERS_DIR = path.join(REPO_ROOT, '.peers');

export const PEER_BINARIES = {
  vsftpd: '/usr/sbin/vsftpd',
  proftpd: path.join(PEERS_DIR, 'proftpd/usr/sbin/proftpd'),
  proftpdModules: path.join(PEERS_DIR, 'proftpd/usr/lib/proftpd'),
  pureFtpd: path.join(PEERS_DIR, 'pure-ftpd/usr/sbin/pure-ftpd'),
  purePw: path.join(PEERS_DIR, 'pure-ftpd/usr/bin/pure-pw'),
  python3: '/usr/bin/python3',
  openssl: '/usr/bin/openssl',
} as const;

/** vsftpd's login, set up by scripts/setup-peers.sh (system user + PAM service with pam_userdb). */
export const VSFTPD_LOGIN = {
  user: 'ferrytest',
  password: 'ferrytest-Pa55',
  pamService: 'ferry-vsftpd',
  pamFile: '/etc/pam.d/ferry-vsftpd',
} as const;

const HOST = '127.0.0.1';
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 4;
const SETUP_HINT = 'run "bash scripts/setup-peers.sh" as root';

// ---------------------------------------------------------------------------------------------------
// small helpers

function requireFile(file: string, what: string): void {
  if (!existsSync(file)) throw new Error(`${what} not found at ${file}: ${SETUP_HINT}`);
}

function requireRoot(name: PeerName): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${name}: the interop peers must be started as root (they switch to unprivileged users)`);
  }
}

function lookupId(file: '/etc/passwd' | '/etc/group', name: string): number {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined) return Number(fields[2]);
  }
  throw new Error(`${name} not found in ${file}: ${SETUP_HINT}`);
}

function lookupUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && fields[3] !== undefined) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  throw new Error(`user ${name} does not exist: ${SETUP_HINT}`);
}

function nobody(): { uid: number; gid: number } {
  return { uid: lookupId('/etc/passwd', 'nobody'), gid: lookupId('/etc/group', 'nogroup') };
}

function randomToken(bytes = 9): string {
  return randomBytes(bytes).toString('base64url');
}

function execFileText(
  file: string,
  args: readonly string[],
  timeoutMs: number,
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: childEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/** SHA-512 crypt(3) hash ($6$), accepted by pam_userdb, ProFTPD's AuthUserFile and pure-pw's files. */
async function cryptHash(password: string): Promise<string> {
  return (
    await execFileText(PEER_BINARIES.openssl, ['passwd', '-6', '-stdin'], 15_000, password + '\n')
  ).trim();
}

/**
 * A self-signed RSA 2048 certificate for CN=localhost with SAN DNS:localhost and IP:127.0.0.1, made
 * with the openssl CLI in `dir` (cert.pem, key.pem and key+cert in server.pem; key files mode 0600).
 */
export async function makeTestCertificate(dir: string): Promise<TestCertificate> {
  requireFile(PEER_BINARIES.openssl, 'openssl');
  await mkdir(dir, { recursive: true });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const pemFile = path.join(dir, 'server.pem');
  await execFileText(
    PEER_BINARIES.openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '7',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    60_000,
  );
  await chmod(keyFile, 0o600);
  const [key, cert] = await Promise.all([readFile(keyFile), readFile(certFile)]);
  await writeFile(pemFile, Buffer.concat([key, cert]), { mode: 0o600 });
  return { certFile, keyFile, pemFile };
}

/** Keeps the last `max` characters of a stream of text. */
class OutputTail {
  private text = '';
  constructor(private readonly max = 256 * 1024) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

function tailOf(text: string, max: number): string {
  return text.length > max ? '…' + text.slice(-max) : text;
}

// ---------------------------------------------------------------------------------------------------
// processes: the server, its process group and its descendants

/** Live (non-zombie) processes in group `pgid` or descending from `rootPid`. */
const family = (rootPid: number, pgid: number): ProcStat[] => processTree(rootPid, { pgid });

function stillSame(p: ProcStat): boolean {
  const now = readStat(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z';
}

function signalFamily(members: readonly ProcStat[], pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already gone
  }
  for (const p of members) {
    if (!stillSame(p)) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** Processes started here and not yet stopped; killed by the 'exit' hook if a test forgets stop(). */
const live = new Set<{ killNow(): void }>();
let exitHookInstalled = false;

function track(entry: { killNow(): void }): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const e of live) e.killNow();
    });
  }
  live.add(entry);
}

/**
 * A server run by test/support/peer_supervisor.py, in its own process group: the supervisor is a
 * child subreaper (reaps the server's orphaned session processes, which would stay zombies under a
 * PID 1 that does not reap) and, when its stdin pipe closes (stop(), or this process died, even by
 * SIGKILL), terminates the whole group and removes the peer's directory.
 */
class ServerProcess {
  readonly output = new OutputTail();
  readonly exited: Promise<ExitInfo>;
  /** Resolves once the output pipes are drained too (after 'exit'). */
  readonly closed: Promise<void>;
  exitInfo: ExitInfo | undefined;
  /** The supervisor's PID (= the process group). */
  readonly pgid: number;
  private stopping: Promise<void> | undefined;
  private readonly tracked = { killNow: (): void => this.killNow() };

  private constructor(
    readonly name: PeerName,
    readonly child: ChildProcess,
    /** Removed once the processes are gone (also by the supervisor and the 'exit' hook). */
    private readonly cleanupDir: string,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn gave no pid`);
    this.pgid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => this.output.push(d));
    child.stderr?.on('data', (d: string) => this.output.push(d));
    child.stdin?.on('error', () => {
      // the supervisor is gone already
    });
    track(this.tracked);
  }

  /** Spawns `command` under the supervisor. */
  static spawn(
    name: PeerName,
    command: string,
    args: readonly string[],
    opts: { cwd: string; env: NodeJS.ProcessEnv; cleanupDir: string },
  ): Promise<ServerProcess> {
    const supervisor = path.join(SUPPORT_DIR, 'peer_supervisor.py');
    requireFile(supervisor, 'peer_supervisor.py');
    return new Promise((resolve, reject) => {
      const child = spawn(PEER_BINARIES.python3, [supervisor, opts.cleanupDir, command, ...args], {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      child.once('error', (err) => reject(new Error(`${name}: cannot run ${command}: ${err.message}`)));
      child.once('spawn', () => {
        // A forgotten peer must not keep the test process alive (the supervisor and exit hook clean up).
        child.unref();
        for (const s of [child.stdin, child.stdout, child.stderr]) if (s instanceof net.Socket) s.unref();
        resolve(new ServerProcess(name, child, opts.cleanupDir));
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The server's PID, once the supervisor has reported it. */
  get serverPid(): number | undefined {
    const m = /^\[supervisor\] server pid (\d+)$/m.exec(this.output.toString());
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }

  /** Closes the supervisor's stdin and signals the group; SIGKILL after a deadline; waits for all. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    try {
      this.child.stdin?.destroy(); // EOF: the supervisor terminates the group
      for (const [signal, waitMs] of [
        ['SIGTERM', STOP_TIMEOUT_MS + 3_000],
        ['SIGKILL', STOP_TIMEOUT_MS],
      ] as const) {
        const members = family(this.pgid, this.pgid);
        signalFamily(members, this.pgid, signal);
        if (await this.waitGone(members, waitMs)) return;
      }
      const left = family(this.pgid, this.pgid).map((p) => p.pid);
      throw new Error(`${this.name}: processes still alive after SIGKILL: ${left.join(', ')}`);
    } finally {
      live.delete(this.tracked);
      await rm(this.cleanupDir, { recursive: true, force: true });
    }
  }

  private async waitGone(members: readonly ProcStat[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const timer = new AbortController();
    await Promise.race([this.exited, delay(timeoutMs, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
    for (;;) {
      const gone = !this.running && !members.some(stillSame) && family(this.pgid, this.pgid).length === 0;
      if (gone) return true;
      if (Date.now() >= deadline) return false;
      await delay(20);
    }
  }

  /**
   * Synchronous last resort for the 'exit' hook: SIGKILL for the server and its children (the
   * supervisor, their parent or subreaper, reaps them), SIGTERM for the supervisor (it exits once
   * they are gone), and the directory removed now.
   */
  private killNow(): void {
    for (const p of family(this.pgid, this.pgid)) {
      if (p.pid === this.pgid) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      process.kill(this.pgid, 'SIGTERM');
    } catch {
      // gone
    }
    rmSync(this.cleanupDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// readiness

/** Connects (implicit: TLS handshake first) and resolves with the 220 greeting; rejects on others. */
export function readGreeting(
  port: number,
  implicit: boolean,
  timeoutMs: number,
  host = HOST,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let done = false;
    const socket: net.Socket = implicit
      ? tls.connect({ host, port, rejectUnauthorized: false, servername: 'localhost' })
      : net.connect({ host, port });
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(
      () => finish(new Error(`no greeting within ${timeoutMs} ms (received ${JSON.stringify(text)})`)),
      timeoutMs,
    );
    socket.setEncoding('latin1');
    socket.on('error', (err) => finish(err));
    socket.on('end', () =>
      finish(new Error(`connection closed before a greeting (received ${JSON.stringify(text)})`)),
    );
    socket.on('data', (chunk: string) => {
      text += chunk;
      const final = /(?:^|\n)(\d{3}) [^\n]*\n/.exec(text);
      if (!final) return;
      if (final[1] === '220') {
        socket.write('QUIT\r\n');
        finish();
      } else {
        finish(new Error(`greeting is not 220: ${text.trim()}`));
      }
    });
  });
}

class PeerStartError extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

const PORT_CLASH = /address already in use|could not bind|EADDRINUSE|unable to bind/i;

interface LaunchSpec {
  readonly name: PeerName;
  readonly dir: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly implicit: boolean;
  /** The port the server was told to use; undefined: it prints `READY <port>` on stdout. */
  readonly port: number | undefined;
  /** Text the greeting must contain (tells our server from another process on a reused port). */
  readonly token: string | undefined;
  readonly logFiles: readonly string[];
  readonly readyTimeoutMs: number;
}

async function readLogs(output: string, logFiles: readonly string[], maxEach: number): Promise<string> {
  const parts = [`--- stdout/stderr ---\n${tailOf(output, maxEach)}`];
  for (const f of logFiles) {
    try {
      parts.push(`--- ${path.basename(f)} ---\n${tailOf(await readFile(f, 'utf8'), maxEach)}`);
    } catch {
      // not written (yet)
    }
  }
  return parts.join('\n');
}

interface Launched {
  readonly proc: ServerProcess;
  /** The server's PID (the supervisor's child). */
  readonly pid: number;
  readonly port: number;
  readonly greeting: string;
  readonly spec: LaunchSpec;
}

async function launch(spec: LaunchSpec): Promise<Launched> {
  const proc = await ServerProcess.spawn(spec.name, spec.command, spec.args, {
    cwd: spec.dir,
    env: spec.env,
    cleanupDir: spec.dir,
  });
  const deadline = Date.now() + spec.readyTimeoutMs;
  let port = spec.port;
  let lastError = 'no attempt yet';
  const fail = async (reason: string, clash: boolean): Promise<never> => {
    const logs = await readLogs(proc.output.toString(), spec.logFiles, 3000); // before stop() removes them
    await proc.stop().catch(() => {});
    throw new PeerStartError(
      `${spec.name} failed to start${port === undefined ? '' : ` on ${HOST}:${port}`}: ${reason}\n${logs}`,
      clash,
    );
  };
  for (;;) {
    if (!proc.running) {
      // 'exit' can come before the last output: let the pipes drain (bounded)
      const drained = new AbortController();
      await Promise.race([proc.closed, delay(2000, undefined, { signal: drained.signal }).catch(() => {})]);
      drained.abort();
      const info = proc.exitInfo;
      const logs = await readLogs(proc.output.toString(), spec.logFiles, 3000);
      const hint = spec.name === 'pure-ftpd' ? ' (pure-ftpd reports errors only to syslog)' : '';
      return fail(
        `it exited (status ${info?.code ?? info?.signal ?? '?'}) before answering${hint}`,
        PORT_CLASH.test(logs),
      );
    }
    if (port === undefined) {
      const m = /^READY (\d+)$/m.exec(proc.output.toString());
      if (m?.[1] !== undefined) port = Number(m[1]);
    }
    if (port !== undefined) {
      let greeting: string | undefined;
      try {
        greeting = await readGreeting(
          port,
          spec.implicit,
          Math.max(500, Math.min(3000, deadline - Date.now())),
        );
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (greeting !== undefined) {
        if (spec.token !== undefined && !greeting.includes(spec.token)) {
          return fail(`another process answers on port ${port}: ${JSON.stringify(greeting.trim())}`, true);
        }
        // The supervisor prints the server's pid right after forking it; wait for that line if the
        // greeting overtook it.
        while (proc.serverPid === undefined && proc.running && Date.now() < deadline) await delay(10);
        const pid = proc.serverPid;
        if (pid === undefined) return fail('the supervisor did not report the server pid', false);
        return { proc, port, greeting, spec, pid };
      }
    }
    if (Date.now() >= deadline) {
      return fail(`not ready within ${spec.readyTimeoutMs} ms (last probe: ${lastError})`, false);
    }
    await Promise.race([delay(25), proc.exited]);
  }
}

interface Prepared {
  readonly dir: string;
  readonly root: string;
  readonly certificate: TestCertificate;
  readonly owner: { readonly uid: number; readonly gid: number };
}

async function prepareDir(
  name: PeerName,
  owner: Prepared['owner'],
  opts: CommonPeerOptions,
): Promise<Prepared> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ferry-${name}-`));
  try {
    // Servers switch to unprivileged users that must reach `root` (mkdtemp makes 0700).
    await chmod(dir, 0o755);
    const root = path.join(dir, 'root');
    await mkdir(root, { mode: 0o755 });
    await chown(root, owner.uid, owner.gid);
    const certificate = opts.certificate ?? (await makeTestCertificate(path.join(dir, 'tls')));
    return { dir, root, certificate, owner };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

interface Configured {
  readonly user: string;
  readonly password: string;
  readonly implicit: boolean;
  readonly spec: LaunchSpec;
}

/**
 * Prepares a fresh directory, lets `configure` write the server's files for a port, launches it and
 * waits until it is ready. A port taken meanwhile by another process means a new attempt from
 * scratch (new directory and port); other failures throw at once.
 */
async function startPeer(
  name: PeerName,
  owner: Prepared['owner'],
  opts: CommonPeerOptions,
  pickPort: boolean,
  configure: (prepared: Prepared, port: number | undefined) => Promise<Configured>,
): Promise<FtpsPeer> {
  for (let attempt = 1; ; attempt++) {
    const prepared = await prepareDir(name, owner, opts);
    let configured: Configured;
    try {
      configured = await configure(prepared, pickPort ? await freePort() : undefined);
    } catch (err) {
      await rm(prepared.dir, { recursive: true, force: true });
      throw err;
    }
    let launched: Launched;
    try {
      launched = await launch(configured.spec); // on failure it has stopped the server, removed the dir
    } catch (err) {
      if (err instanceof PeerStartError && err.portClash && attempt < PORT_ATTEMPTS) continue;
      throw err;
    }
    return makePeer(name, prepared, configured, launched);
  }
}

function makePeer(name: PeerName, prepared: Prepared, configured: Configured, launched: Launched): FtpsPeer {
  const { dir, root, owner, certificate } = prepared;
  const { proc, port, greeting, pid } = launched;
  return {
    name,
    host: HOST,
    port,
    user: configured.user,
    password: configured.password,
    root,
    implicit: configured.implicit,
    pid,
    owner,
    dir,
    certificate,
    greeting,
    async putFile(relativePath, data) {
      const target = path.resolve(root, relativePath.replace(/^\/+/, ''));
      if (target !== root && !target.startsWith(root + path.sep)) {
        throw new Error(`putFile: ${relativePath} is outside the peer's root`);
      }
      let cur = root;
      for (const part of path.relative(root, path.dirname(target)).split(path.sep).filter(Boolean)) {
        cur = path.join(cur, part);
        if (!existsSync(cur)) {
          await mkdir(cur, { mode: 0o755 });
          await chown(cur, owner.uid, owner.gid);
        }
      }
      await writeFile(target, data, { mode: 0o644 });
      await chown(target, owner.uid, owner.gid);
      return target;
    },
    logs: () => readLogs(proc.output.toString(), configured.spec.logFiles, 1 << 20),
    stop: () => proc.stop(),
  };
}

function readyTimeout(opts: CommonPeerOptions): number {
  return opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
}

/** An OpenSSL configuration capping TLS at 1.2 (for servers without such an option, like vsftpd). */
async function writeTls12OpensslConf(dir: string): Promise<string> {
  const file = path.join(dir, 'openssl-tls12.cnf');
  await writeFile(
    file,
    [
      'openssl_conf = ferry_conf',
      '[ferry_conf]',
      'ssl_conf = ferry_ssl',
      '[ferry_ssl]',
      'system_default = ferry_tls',
      '[ferry_tls]',
      'MaxProtocol = TLSv1.2',
      '',
    ].join('\n'),
  );
  return file;
}

// ---------------------------------------------------------------------------------------------------
// vsftpd

export interface VsftpdOptions extends CommonPeerOptions {
  /** implicit_ssl=YES (one mode per process). Default false. */
  readonly implicit?: boolean;
  /**
   * Highest TLS version; default '1.2' (via OPENSSL_CONF): with TLS 1.3, vsftpd 3.0.3 fails about
   * half of curl's uploads with "426 Failure reading network stream".
   */
  readonly tlsMax?: '1.2' | '1.3';
  /** require_ssl_reuse (data TLS must resume the control session). Default true. */
  readonly requireSslReuse?: boolean;
  /** More vsftpd.conf settings; they override the defaults. */
  readonly extraConfig?: Readonly<Record<string, string>>;
}

/**
 * vsftpd 3.0.3, TLS required on control and data, local user `ferrytest` (PAM service ferry-vsftpd
 * with pam_userdb) chrooted to a writable temporary root, passive and active mode enabled.
 */
export async function startVsftpd(opts: VsftpdOptions = {}): Promise<FtpsPeer> {
  requireRoot('vsftpd');
  requireFile(PEER_BINARIES.vsftpd, 'vsftpd');
  requireFile(VSFTPD_LOGIN.pamFile, `PAM service ${VSFTPD_LOGIN.pamService}`);
  const owner = lookupUser(VSFTPD_LOGIN.user);
  const implicit = opts.implicit ?? false;
  return startPeer('vsftpd', owner, opts, true, async ({ dir, root, certificate }, port) => {
    const emptyDir = path.join(dir, 'empty');
    await mkdir(emptyDir, { mode: 0o555 });
    const sslConf = (opts.tlsMax ?? '1.2') === '1.2' ? await writeTls12OpensslConf(dir) : undefined;
    const token = `Ferry-peer-vsftpd-${randomToken()}`;
    const logFile = path.join(dir, 'vsftpd.log');
    const configFile = path.join(dir, 'vsftpd.conf');
    const settings: Record<string, string> = {
      listen: 'YES',
      listen_ipv6: 'NO',
      listen_address: HOST,
      listen_port: String(port),
      background: 'NO',
      ftpd_banner: token,
      anonymous_enable: 'NO',
      local_enable: 'YES',
      write_enable: 'YES',
      local_umask: '022',
      pam_service_name: VSFTPD_LOGIN.pamService,
      userlist_enable: 'NO',
      local_root: root,
      chroot_local_user: 'YES',
      allow_writeable_chroot: 'YES',
      secure_chroot_dir: emptyDir,
      // containers: no seccomp filter, no network/PID namespaces per session
      seccomp_sandbox: 'NO',
      isolate: 'NO',
      isolate_network: 'NO',
      ssl_enable: 'YES',
      implicit_ssl: implicit ? 'YES' : 'NO',
      force_local_logins_ssl: 'YES',
      force_local_data_ssl: 'YES',
      require_ssl_reuse: (opts.requireSslReuse ?? true) ? 'YES' : 'NO',
      ssl_sslv2: 'NO',
      ssl_sslv3: 'NO',
      ssl_tlsv1: 'NO',
      rsa_cert_file: certificate.certFile,
      rsa_private_key_file: certificate.keyFile,
      pasv_enable: 'YES',
      port_enable: 'YES',
      connect_from_port_20: 'NO',
      hide_ids: 'NO',
      idle_session_timeout: '300',
      data_connection_timeout: '120',
      max_clients: '0',
      max_per_ip: '0',
      syslog_enable: 'NO',
      xferlog_enable: 'YES',
      xferlog_std_format: 'NO',
      vsftpd_log_file: logFile,
      log_ftp_protocol: 'YES',
      ...opts.extraConfig,
    };
    const text = Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    await writeFile(configFile, text + '\n', { mode: 0o600 });
    return {
      user: VSFTPD_LOGIN.user,
      password: VSFTPD_LOGIN.password,
      implicit,
      spec: {
        name: 'vsftpd',
        dir,
        command: PEER_BINARIES.vsftpd,
        args: [configFile],
        env: childEnv(sslConf ? { OPENSSL_CONF: sslConf } : {}),
        implicit,
        port,
        token,
        logFiles: [logFile],
        readyTimeoutMs: readyTimeout(opts),
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// ProFTPD

export interface ProftpdOptions extends CommonPeerOptions {
  /** TLSOptions UseImplicitSSL. Default false. */
  readonly implicit?: boolean;
  /** Highest TLS version (TLSProtocol); default '1.3'. */
  readonly tlsMax?: '1.2' | '1.3';
  /** Data TLS must resume the control session (ProFTPD's default); false adds NoSessionReuseRequired. */
  readonly requireSslReuse?: boolean;
  /** REST before STOR allowed (AllowStoreRestart); default true (ProFTPD's own default is off). */
  readonly storeRestart?: boolean;
  /** More directives, appended to the server configuration. */
  readonly extraConfig?: readonly string[];
}

/**
 * ProFTPD 1.3.8 with mod_tls from .peers/ (TLSRequired on), user `ferry` from an AuthUserFile (no
 * system user), chrooted to a writable temporary root; runs in the foreground (-n) as root and
 * switches to nobody/nogroup. Beware: after each session ends, its master process pauses ~0.4 s
 * before it accepts the next connection.
 */
export async function startProftpd(opts: ProftpdOptions = {}): Promise<FtpsPeer> {
  requireRoot('proftpd');
  requireFile(PEER_BINARIES.proftpd, 'proftpd (unpacked proftpd-core)');
  requireFile(
    path.join(PEER_BINARIES.proftpdModules, 'mod_tls.so'),
    'mod_tls.so (unpacked proftpd-mod-crypto)',
  );
  const owner = nobody();
  const implicit = opts.implicit ?? false;
  const user = 'ferry';
  const password = randomToken();
  const passwordHash = await cryptHash(password);
  const tlsOptions = [
    ...(implicit ? ['UseImplicitSSL'] : []),
    ...((opts.requireSslReuse ?? true) ? [] : ['NoSessionReuseRequired']),
  ];
  return startPeer('proftpd', owner, opts, true, async ({ dir, root, certificate }, port) => {
    const authFile = path.join(dir, 'ftpd.passwd');
    await writeFile(
      authFile,
      `${user}:${passwordHash}:${owner.uid}:${owner.gid}:Ferry interop:${root}:/usr/sbin/nologin\n`,
      { mode: 0o600 },
    );
    const token = `Ferry-peer-proftpd-${randomToken()}`;
    const systemLog = path.join(dir, 'proftpd.log');
    const tlsLog = path.join(dir, 'proftpd-tls.log');
    const configFile = path.join(dir, 'proftpd.conf');
    const lines = [
      'ServerType standalone',
      'ServerName "Ferry interop ProFTPD"',
      `ServerIdent on "${token}"`,
      `DefaultAddress ${HOST}`,
      'SocketBindTight on',
      `Port ${port}`,
      'UseIPv6 off',
      'User nobody',
      'Group nogroup',
      'Umask 022',
      `ModulePath ${PEER_BINARIES.proftpdModules}`,
      'LoadModule mod_tls.c',
      `PidFile ${path.join(dir, 'proftpd.pid')}`,
      `ScoreboardFile ${path.join(dir, 'proftpd.scoreboard')}`,
      'DelayTable none',
      'WtmpLog off',
      'UseReverseDNS off',
      'UseFtpUsers off',
      `SystemLog ${systemLog}`,
      'TransferLog none',
      'AuthPAM off',
      'AuthOrder mod_auth_file.c',
      `AuthUserFile ${authFile}`,
      'RequireValidShell off',
      'DefaultRoot ~',
      'AllowOverwrite on',
      `AllowStoreRestart ${opts.storeRestart === false ? 'off' : 'on'}`,
      'AllowRetrieveRestart on',
      'MaxInstances 64',
      'TimeoutIdle 300',
      '<IfModule mod_ctrls.c>',
      '  ControlsEngine off',
      '</IfModule>',
      'TLSEngine on',
      `TLSLog ${tlsLog}`,
      `TLSProtocol ${(opts.tlsMax ?? '1.3') === '1.3' ? 'TLSv1.2 TLSv1.3' : 'TLSv1.2'}`,
      'TLSRequired on',
      `TLSRSACertificateFile ${certificate.certFile}`,
      `TLSRSACertificateKeyFile ${certificate.keyFile}`,
      'TLSVerifyClient off',
      ...(tlsOptions.length > 0 ? [`TLSOptions ${tlsOptions.join(' ')}`] : []),
      ...(opts.extraConfig ?? []),
    ];
    await writeFile(configFile, lines.join('\n') + '\n', { mode: 0o600 });
    return {
      user,
      password,
      implicit,
      spec: {
        name: 'proftpd',
        dir,
        command: PEER_BINARIES.proftpd,
        args: ['-n', '-c', configFile],
        env: childEnv(),
        implicit,
        port,
        token,
        logFiles: [systemLog, tlsLog],
        readyTimeoutMs: readyTimeout(opts),
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Pure-FTPd

export interface PureFtpdOptions extends CommonPeerOptions {
  /** -Y level: 2 = TLS required on the control connection, 3 = also on data connections. Default 2. */
  readonly tlsLevel?: 2 | 3;
  /** More command-line options. */
  readonly extraArgs?: readonly string[];
}

/**
 * Pure-FTPd 1.0.50 from .peers/ (explicit FTPS only: Debian's build has no implicit mode), virtual
 * user `ferry` in a PureDB (made with pure-pw from a SHA-512 crypt hash: its default argon2 hash
 * costs ~3 s per login) chrooted to a writable temporary root.
 */
export async function startPureFtpd(opts: PureFtpdOptions = {}): Promise<FtpsPeer> {
  requireRoot('pure-ftpd');
  requireFile(PEER_BINARIES.pureFtpd, 'pure-ftpd (unpacked)');
  requireFile(PEER_BINARIES.purePw, 'pure-pw (unpacked pure-ftpd)');
  const owner = nobody();
  const user = 'ferry';
  const password = randomToken();
  const passwordHash = await cryptHash(password);
  return startPeer('pure-ftpd', owner, opts, true, async ({ dir, root, certificate }, port) => {
    const passwdFile = path.join(dir, 'pureftpd.passwd');
    const pdbFile = path.join(dir, 'pureftpd.pdb');
    // pure-pw's text format: user:hash:uid:gid:gecos:home/./:(quota and limit fields)
    await writeFile(
      passwdFile,
      `${user}:${passwordHash}:${owner.uid}:${owner.gid}::${root}/./::::::::::::\n`,
      {
        mode: 0o600,
      },
    );
    await execFileText(PEER_BINARIES.purePw, ['mkdb', pdbFile, '-f', passwdFile], 15_000);
    // The fortune file is shown in the greeting: it carries the instance token.
    const token = `Ferry-peer-pure-ftpd-${randomToken()}`;
    const fortunes = path.join(dir, 'fortunes');
    await writeFile(fortunes, token + '\n');
    const transferLog = path.join(dir, 'transfer.log');
    return {
      user,
      password,
      implicit: false,
      spec: {
        name: 'pure-ftpd',
        dir,
        command: PEER_BINARIES.pureFtpd,
        args: [
          '--bind',
          `${HOST},${port}`,
          '--ipv4only',
          '--login',
          `puredb:${pdbFile}`,
          '--tls',
          String(opts.tlsLevel ?? 2),
          '--certfile',
          `${certificate.certFile},${certificate.keyFile}`,
          '--noanonymous',
          '--chrooteveryone',
          '--dontresolve',
          '--fortunesfile',
          fortunes,
          '--pidfile',
          path.join(dir, 'pure-ftpd.pid'),
          '--maxclientsnumber',
          '64',
          '--maxclientsperip',
          '64',
          '--altlog',
          `clf:${transferLog}`,
          ...(opts.extraArgs ?? []),
        ],
        env: childEnv(),
        implicit: false,
        port,
        token,
        logFiles: [transferLog],
        readyTimeoutMs: readyTimeout(opts),
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// pyftpdlib

export interface PyftpdlibOptions extends CommonPeerOptions {
  /**
   * Highest TLS version; default '1.2'. With TLS 1.3, a client that closes a data connection without
   * reading the server's session tickets (lftp) makes the kernel send a reset, the upload's tail is
   * lost, and pyftpdlib still answers 226.
   */
  readonly tlsMax?: '1.2' | '1.3';
  /** PROT answered 534 whatever its level (a server that refuses protected data connections). */
  readonly refuseProt?: boolean;
  /** No MLSD/MLST (left out of FEAT), so that clients list with LIST. */
  readonly noMlst?: boolean;
  /** `LIST -a` (any leading `-`) taken for a path: 550, as IIS answers it. */
  readonly refuseListOptions?: boolean;
}

/**
 * pyftpdlib 1.5.7 (TLS_FTPHandler, TLS required on control and data; explicit only), run by
 * test/support/pyftpd_server.py with /usr/bin/python3; it binds port 0 and prints the port.
 * Beware: curl cannot transfer with it (pyftpdlib drops a data connection whose TLS ClientHello
 * arrives before the transfer command); use lftp or ftplib.
 */
export async function startPyftpdlib(opts: PyftpdlibOptions = {}): Promise<FtpsPeer> {
  requireRoot('pyftpdlib');
  requireFile(PEER_BINARIES.python3, 'python3');
  const script = path.join(SUPPORT_DIR, 'pyftpd_server.py');
  requireFile(script, 'pyftpd_server.py');
  const user = 'ferry';
  const password = randomToken();
  return startPeer('pyftpdlib', { uid: 0, gid: 0 }, opts, false, async ({ dir, root, certificate }, port) => {
    const configFile = path.join(dir, 'pyftpd.json');
    const config = {
      user,
      password,
      root,
      certfile: certificate.certFile,
      keyfile: certificate.keyFile,
      host: HOST,
      port: 0,
      tlsMax: opts.tlsMax ?? '1.2',
      refuseProt: opts.refuseProt ?? false,
      noMlst: opts.noMlst ?? false,
      refuseListOptions: opts.refuseListOptions ?? false,
    };
    await writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
    return {
      user,
      password,
      implicit: false,
      spec: {
        name: 'pyftpdlib',
        dir,
        command: PEER_BINARIES.python3,
        args: [script, '@' + configFile],
        env: childEnv({ PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' }),
        implicit: false,
        port,
        token: undefined,
        logFiles: [],
        readyTimeoutMs: readyTimeout(opts),
      },
    };
  });
}

/** Starts any peer by name (vsftpd and proftpd honour `implicit`; the others are explicit only). */
export function startPeerByName(name: PeerName, opts: { implicit?: boolean } = {}): Promise<FtpsPeer> {
  switch (name) {
    case 'vsftpd':
      return startVsftpd(opts);
    case 'proftpd':
      return startProftpd(opts);
    case 'pure-ftpd':
      if (opts.implicit) return Promise.reject(new Error('pure-ftpd (Debian build) has no implicit FTPS'));
      return startPureFtpd();
    case 'pyftpdlib':
      if (opts.implicit) return Promise.reject(new Error('pyftpdlib has no implicit FTPS'));
      return startPyftpdlib();
  }
}
