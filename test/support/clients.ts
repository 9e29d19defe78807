/**
 * Real FTP(S) clients from Debian packages (curl, lftp, Python's ftplib), run as child processes
 * against a server (a peer from peers.ts, or a Ferry server) on loopback.
 *
 * Every run has a timeout, captures stdout/stderr and resolves to a ClientResult; it never throws for
 * a non-zero exit (use expectSuccess() for that), only when the client program is missing.
 * Install the clients with `bash scripts/setup-peers.sh` (as root).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where and how to log in; a peer from peers.ts is one. */
export interface FtpsTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** true: TLS from the first byte (ftps://); false: explicit AUTH TLS on a plain connection. */
  readonly implicit: boolean;
}

export interface ClientResult {
  /** Exit code, or null when the process was killed (timeout or signal). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** The command line, for error messages (passwords are masked). */
  readonly command: string;
}

export interface RunOptions {
  /** Kill the client (SIGKILL) after this many ms; default 60 000. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** Extra environment variables (added to the client's minimal environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the client's stdin, which is then closed. */
  readonly input?: string;
  /** Strings to mask in `command` (for example passwords). */
  readonly secrets?: readonly string[];
}

export const CLIENT_BINARIES = {
  curl: '/usr/bin/curl',
  lftp: '/usr/bin/lftp',
  python3: '/usr/bin/python3',
} as const;

const DEFAULT_TIMEOUT_MS = 60_000;

function findSupportDir(): string {
  // Compiled to dist/test/support/; the Python scripts stay in test/support/ of the repository.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'support');
    if (existsSync(path.join(candidate, 'ftplib_client.py'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('test/support/ftplib_client.py not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** test/support/ in the source tree (holds the Python helper scripts). */
export const SUPPORT_DIR = findSupportDir();

/** A minimal, deterministic environment for child processes (no pyenv, no user config). */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: os.tmpdir(),
    ...extra,
  };
}

function mask(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs a program (no shell) with a timeout and captures its output. */
export function runProcess(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<ClientResult> {
  const command = mask([file, ...args].map(quoteArg).join(' '), opts.secrets ?? []);
  if (!existsSync(file)) {
    return Promise.reject(
      new Error(
        `${file} is not installed (needed for: ${command}); run "bash scripts/setup-peers.sh" as root`,
      ),
    );
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        env: childEnv(opts.env),
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code === 'string') {
          // spawn failure (ENOENT, EACCES, ...), not an exit status
          reject(new Error(`cannot run ${command}: ${error.message}`));
          return;
        }
        const killed = error?.killed === true;
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: error?.signal ?? null,
          timedOut: killed && error?.signal === 'SIGKILL',
          stdout,
          stderr,
          command,
        });
      },
    );
    child.stdin?.on('error', () => {
      // the client may exit before reading its stdin (EPIPE); its exit status tells the story
    });
    child.stdin?.end(opts.input ?? '');
  });
}

function tail(text: string, max = 4000): string {
  return text.length > max ? '…' + text.slice(-max) : text;
}

/** Throws a descriptive Error unless the client exited with status 0. Returns the result. */
export function expectSuccess<T extends ClientResult>(result: T, what = 'client'): T {
  if (result.code === 0) return result;
  const why = result.timedOut
    ? 'timed out'
    : result.code === null
      ? `was killed by ${result.signal ?? 'a signal'}`
      : `exited with ${result.code}`;
  throw new Error(
    `${what} ${why}: ${result.command}\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// curl 7.88: ftps:// is implicit FTPS, --ssl-reqd ftp:// is explicit (it sends AUTH SSL, then AUTH TLS).
// Its active mode (-P) is broken by itself; use lftp or ftplib for active mode.

/** `ftps://host:port/path` (implicit) or `ftp://host:port/path`; path segments are percent-encoded. */
export function ftpUrl(t: FtpsTarget, remotePath = '/'): string {
  const p = remotePath.startsWith('/') ? remotePath : '/' + remotePath;
  const encoded = p
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.implicit ? 'ftps' : 'ftp'}://${host}:${t.port}${encoded}`;
}

/** Arguments common to every curl call: quiet with errors, no certificate check, login, TLS required. */
export function curlBaseArgs(t: FtpsTarget): string[] {
  return [
    '--silent',
    '--show-error',
    '--insecure',
    '--user',
    `${t.user}:${t.password}`,
    ...(t.implicit ? [] : ['--ssl-reqd']),
    '--connect-timeout',
    '15',
  ];
}

/** Runs curl with the base arguments followed by `args` (which should include a URL from ftpUrl()). */
export function curl(t: FtpsTarget, args: readonly string[], opts: RunOptions = {}): Promise<ClientResult> {
  return runProcess(CLIENT_BINARIES.curl, [...curlBaseArgs(t), ...args], {
    ...opts,
    secrets: [...(opts.secrets ?? []), t.password],
  });
}

export function curlUpload(
  t: FtpsTarget,
  localFile: string,
  remotePath: string,
  extraArgs: readonly string[] = [],
  opts: RunOptions = {},
): Promise<ClientResult> {
  return curl(t, [...extraArgs, '--upload-file', localFile, ftpUrl(t, remotePath)], opts);
}

export function curlDownload(
  t: FtpsTarget,
  remotePath: string,
  localFile: string,
  extraArgs: readonly string[] = [],
  opts: RunOptions = {},
): Promise<ClientResult> {
  return curl(t, [...extraArgs, '--output', localFile, ftpUrl(t, remotePath)], opts);
}

/** LIST of a directory (stdout holds the listing); `--list-only` in extraArgs gives NLST. */
export function curlList(
  t: FtpsTarget,
  remoteDir = '/',
  extraArgs: readonly string[] = [],
  opts: RunOptions = {},
): Promise<ClientResult> {
  const dir = remoteDir.endsWith('/') ? remoteDir : remoteDir + '/';
  return curl(t, [...extraArgs, ftpUrl(t, dir)], opts);
}

// ---------------------------------------------------------------------------------------------------
// lftp 4.9: ftp:ssl-force refuses to log in without TLS; ftps:// URLs are implicit FTPS.

/** lftp's double-quoted string syntax. */
export function lftpQuote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export interface LftpOptions extends RunOptions {
  /** `set` commands run after the defaults and before `open` (for example ['ftp:passive-mode false']). */
  readonly settings?: readonly string[];
}

/**
 * Runs an lftp script (lines or one string) after connecting and logging in to `t` with TLS forced on
 * control and data, no certificate verification, few retries, and `cmd:fail-exit` so the first failing
 * command ends the run with a non-zero status. Local paths in the script are relative to `opts.cwd`.
 */
export async function lftp(
  t: FtpsTarget,
  script: string | readonly string[],
  opts: LftpOptions = {},
): Promise<ClientResult> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'ferry-lftp-'));
  try {
    const lines = [
      'set cmd:fail-exit yes',
      'set cmd:interactive no',
      'set ftp:ssl-allow yes',
      'set ftp:ssl-force yes',
      'set ftp:ssl-protect-data yes',
      'set ftp:ssl-protect-list yes',
      'set ssl:verify-certificate no',
      'set net:max-retries 1',
      'set net:persist-retries 0',
      'set net:timeout 15',
      'set net:reconnect-interval-base 1',
      'set xfer:clobber yes',
      ...(opts.settings ?? []).map((s) => `set ${s}`),
      `open -p ${t.port} ${t.implicit ? 'ftps' : 'ftp'}://${t.host.includes(':') ? `[${t.host}]` : t.host}`,
      `user ${lftpQuote(t.user)} ${lftpQuote(t.password)}`,
      ...(typeof script === 'string' ? [script] : script),
    ];
    const scriptFile = path.join(home, 'script.lftp');
    await writeFile(scriptFile, lines.join('\n') + '\n', { mode: 0o600 });
    return await runProcess(CLIENT_BINARIES.lftp, ['-f', scriptFile], {
      ...opts,
      env: { HOME: home, LFTP_HOME: home, ...opts.env },
      secrets: [...(opts.secrets ?? []), t.password],
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Python ftplib (test/support/ftplib_client.py): FTP_TLS with data connections resuming the control
// TLS session (reuseSession, default on) and implicit mode (t.implicit).

export type FtplibAction =
  /** USER/PASS (explicit mode: AUTH TLS first), then PBSZ 0 + PROT P unless protectData is false. */
  | { op: 'login'; user?: string; password?: string; protectData?: boolean }
  /** ftplib's login() without arguments: USER anonymous, PASS anonymous@. */
  | { op: 'login'; anonymous: true; protectData?: boolean }
  | { op: 'pwd' }
  | { op: 'cwd'; path: string }
  | { op: 'list'; path?: string }
  | { op: 'nlst'; path?: string }
  | { op: 'mlsd'; path?: string }
  /**
   * closeWithoutReading: as lftp does, never read the data connection and close it right after
   * close_notify (bytes the server sent meanwhile make the kernel reset the connection).
   */
  | { op: 'upload'; local: string; remote: string; offset?: number; closeWithoutReading?: boolean }
  | { op: 'append'; local: string; remote: string }
  /** With offset: REST offset, then RETR; the local file receives only the bytes from offset on. */
  | { op: 'download'; remote: string; local: string; offset?: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'delete'; path: string }
  | { op: 'mkd'; path: string }
  | { op: 'rmd'; path: string }
  | { op: 'size'; path: string }
  | { op: 'passive'; enabled: boolean }
  | { op: 'prot'; level: 'P' | 'C' }
  /** Sends a command line and records the reply (errors included); no data connection. */
  | { op: 'raw'; command: string }
  /** CCC: the control connection continues in clear text; data connections offer no session. */
  | { op: 'ccc' }
  | { op: 'quit' };

export interface FtplibResult {
  readonly op: FtplibAction['op'];
  readonly ok: boolean;
  /** The last reply line(s) text, e.g. "226 Transfer complete". */
  readonly reply?: string;
  /** Three-digit code of the reply (or of the error reply). */
  readonly code?: string;
  readonly error?: string;
  /** list: LIST lines; nlst: names; pwd: [path]. */
  readonly lines?: readonly string[];
  /** mlsd: [name, facts] pairs. */
  readonly entries?: readonly (readonly [string, Readonly<Record<string, string>>])[];
  readonly size?: number;
  /** upload/download: bytes transferred and their SHA-256 (hex). */
  readonly bytes?: number;
  readonly sha256?: string;
  /** data connections: whether the data TLS session resumed the control session (null without TLS). */
  readonly sessionReused?: boolean | null;
}

export interface FtplibRun extends ClientResult {
  /** True when every action succeeded. */
  readonly ok: boolean;
  readonly welcome?: string;
  /** Error before any action (connect, TLS), if any. */
  readonly error?: string;
  readonly results: readonly FtplibResult[];
}

export interface FtplibOptions extends RunOptions {
  /** Pass the control connection's TLS session when wrapping data connections (default true). */
  readonly reuseSession?: boolean;
  /** Highest TLS version the client offers (default: OpenSSL's, 1.3). */
  readonly tlsMax?: '1.2' | '1.3';
  /** Treat a TLS connection closed without close_notify as an error (python.org/pyenv builds do). */
  readonly strictEof?: boolean;
  /**
   * The TLS session data connections offer: the control connection's (default), or each session
   * once, the newest unused first, as OpenSSL's client cache (curl) does.
   */
  readonly dataSession?: 'control' | 'newest-once';
  /** Keep running the remaining actions after one fails (default false: stop at the first failure). */
  readonly continueOnError?: boolean;
  /** Socket timeout inside Python, seconds (default 30). */
  readonly socketTimeoutSec?: number;
  /** A client certificate to present (ssl context load_cert_chain). */
  readonly clientCertificate?: { readonly certFile: string; readonly keyFile: string };
}

interface FtplibOutput {
  ok: boolean;
  welcome?: string;
  error?: string;
  results: FtplibResult[];
}

function isFtplibOutput(v: unknown): v is FtplibOutput {
  return typeof v === 'object' && v !== null && 'results' in v && Array.isArray(v.results) && 'ok' in v;
}

/** Runs the actions in order over one control connection and returns their results. */
export async function ftplib(
  t: FtpsTarget,
  actions: readonly FtplibAction[],
  opts: FtplibOptions = {},
): Promise<FtplibRun> {
  const spec = {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    implicit: t.implicit,
    reuseSession: opts.reuseSession ?? true,
    tlsMax: opts.tlsMax ?? null,
    strictEof: opts.strictEof ?? false,
    dataSession: opts.dataSession ?? 'control',
    continueOnError: opts.continueOnError ?? false,
    timeout: opts.socketTimeoutSec ?? 30,
    certFile: opts.clientCertificate?.certFile ?? null,
    keyFile: opts.clientCertificate?.keyFile ?? null,
    actions,
  };
  const script = path.join(SUPPORT_DIR, 'ftplib_client.py');
  // The spec goes through stdin so the password never appears in the process list.
  const result = await runProcess(CLIENT_BINARIES.python3, [script], {
    ...opts,
    input: JSON.stringify(spec),
    env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    parsed = undefined;
  }
  if (!isFtplibOutput(parsed)) {
    return {
      ...result,
      ok: false,
      error: `ftplib_client.py printed no result (exit ${result.code}): ${tail(result.stderr || result.stdout, 2000)}`,
      results: [],
    };
  }
  return { ...result, ...parsed };
}

/** Throws a descriptive Error unless every ftplib action succeeded. Returns the run. */
export function expectFtplibOk(run: FtplibRun, what = 'ftplib'): FtplibRun {
  if (run.ok && run.code === 0) return run;
  const failed = run.results.find((r) => !r.ok);
  const reason =
    run.error ?? (failed ? `${failed.op} failed: ${failed.error ?? failed.reply ?? '?'}` : 'failed');
  throw new Error(
    `${what}: ${reason}\n--- results ---\n${JSON.stringify(run.results, null, 1)}\n--- stderr ---\n${tail(run.stderr)}`,
  );
}
