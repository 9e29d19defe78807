import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type * as tls from 'node:tls';
import { Command, InvalidArgumentError, Option, type CommanderError } from 'commander';
import { FerryClient, type ClientOptions, type RemoteEntry } from '../client/client.js';
import { failureKind, NoGreetingError } from '../client/errors.js';
import { mirror } from '../client/mirror.js';
import { reservedCommand, verbOf, type ReservedKind } from '../client/raw-commands.js';
import { KnownHostsFile, type TrustDecision } from '../client/trust.js';
import {
  isFtpUrl,
  joinRemote,
  parseFtpUrl,
  redactUrl,
  remoteBasename,
  resolveCredentials,
  type FtpUrl,
} from '../client/url.js';
import { FerryError, ReplyError } from '../errors.js';
import { formatMode, formatUnknownMode, parseChmodMode } from '../protocol/mode.js';
import { showRawBytes } from '../protocol/byte-text.js';
import { promptHidden } from './password-input.js';
import { printable, printableName } from './printable.js';
import { logVerbose } from './verbose-log.js';
import { formatReply, isNegative } from '../protocol/reply.js';
import {
  getBatch,
  isLocalBatch,
  isRemoteBatch,
  isRemoteDirectory,
  localSource,
  putBatch,
  stepConnection,
  transferOne,
  unquotedLast,
  type BatchRun,
} from './client-batch.js';
import { readCaFile } from './ca-file.js';
import { stdoutTarget } from './stdout-target.js';
import { clientCertificateOf, type ClientCertificate } from './client-certificate.js';
import { timeoutSeconds } from './timeout-seconds.js';
import { describeError, describeLost, describeReconnect, listingOf } from './error-text.js';
import { EXIT, EXIT_CODES_HELP, exitCodeFor, type ExitCode } from './client-exit-codes.js';
import { createReporter, humanBytes, type Reporter } from './client-progress.js';
import { mirrorSummary, unfinishedMirrorSummary, verifySummary, type MirrorTally } from './mirror-summary.js';
import { downloadTarget } from './download-target.js';
import { formatModified, timePrecision } from './listing-time.js';
import { keepLocalTime, keepRemoteTime } from './remote-time.js';
import { parseTlsVersion, TLS_VERSION_CHOICES } from './tls-version.js';
import { addTrustOptions, collect, trustPolicy } from './trust-options.js';

/**
 * The client commands of the `ferry` tool: ls, get, put, mirror, rm, mkdir, mv, cat, quote, chmod.
 * URLs: ftps://HOST[:990]/PATH (implicit FTPS), ftpes://HOST[:21]/PATH (explicit FTPS),
 * ftp://… (plain FTP, only with --allow-plain). The password comes from the URL, FERRY_PASSWORD or
 * ~/.netrc and is never printed (--verbose shows PASS as ****).
 */

interface CommonOptions {
  insecure?: boolean;
  fingerprint?: string[];
  ca?: string;
  cert?: string;
  key?: string;
  tofu?: boolean;
  knownHosts?: string;
  auth?: 'tls' | 'ssl';
  prot?: 'p' | 'c';
  active?: boolean;
  disableEpsv?: boolean;
  tlsMin?: tls.SecureVersion;
  parallel?: number;
  timeout?: number;
  verbose?: boolean;
  quiet?: boolean;
  allowPlain?: boolean;
}

/** The same values as `ferry serve --tls-min`. */
function tlsVersion(value: string): tls.SecureVersion {
  const version = parseTlsVersion(value);
  if (version === undefined) throw new InvalidArgumentError(`expected ${TLS_VERSION_CHOICES}.`);
  return version;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number (0 or more).');
  return n;
}

/** --retry's default: a transient failure (425, a lost connection) is tried twice more, as lftp does. */
const DEFAULT_RETRIES = 2;

/** --retry, for the commands that transfer files (get, put, mirror). */
function retryOption(): Option {
  return new Option(
    '--retry <n>',
    `times to try a file again after a transient failure (421, 425, 426, 450, 451, a lost connection, a timeout), with a short growing pause; a lost connection is opened again after 1 s, 2 s, 4 s … (up to 30 s), as many times, and while the server refuses connections (restarting) at least 5 (about 30 s); never after a 421 saying this client is banned; get, put and mirror (0: never)`,
  )
    .argParser(nonNegativeInt)
    .default(DEFAULT_RETRIES);
}

type Login = { readonly user: string; readonly password: string };

function addCommonOptions(cmd: Command): Command {
  return addTrustOptions(cmd, {
    insecure: 'do not verify the server certificate at all',
    fingerprint: 'accept only the certificate with this SHA-256 fingerprint (repeatable)',
  })
    .option('--ca <file>', 'trust the CA certificates in this PEM file instead of the system CAs')
    .option('--cert <file>', 'client certificate (PEM) to present, for servers that log users in by it')
    .option('--key <file>', 'private key (PEM) of --cert')
    .addOption(
      new Option('--auth <mechanism>', 'explicit FTPS: AUTH TLS (default) or AUTH SSL').choices([
        'tls',
        'ssl',
      ]),
    )
    .addOption(
      new Option('--prot <level>', 'data protection: p (private, default) or c (clear)').choices(['p', 'c']),
    )
    .option('--active', 'active data connections (EPRT/PORT) instead of passive (EPSV/PASV)')
    .option('--disable-epsv', 'passive mode with PASV only')
    .option('--tls-min <version>', 'lowest TLS version: 1.0, 1.1, 1.2 (default) or 1.3', tlsVersion)
    .option(
      '--parallel <n>',
      'files at once over separate connections (mirror, and get/put of several files)',
      positiveInt,
    )
    .option(
      '--timeout <seconds>',
      'timeout for connecting, each reply and a stalled data connection (default 15 s connect, 30 s replies, 60 s data)',
      timeoutSeconds,
    )
    .option('--allow-plain', 'allow ftp:// (plain FTP: the password travels in clear)')
    .option('-v, --verbose', 'print the command/reply dialogue on stderr (password masked)')
    .option('-q, --quiet', 'no progress bars or notes')
    .addHelpText(
      'after',
      `\nURLs: ftps://HOST[:990]/PATH (implicit), ftpes://HOST[:21]/PATH (explicit), ftp://… (--allow-plain).
Paths are relative to the login directory; %2F starts an absolute path (ftpes://h/%2Fetc).
Password: in the URL, FERRY_PASSWORD, or ~/.netrc.\n\n${EXIT_CODES_HELP}`,
    );
}

/** Usage errors from commander itself (unknown option, missing argument) exit with EXIT.usage. */
function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
}

/** One command run: reporter, Ctrl-C → abort, connections, error → exit code. */
class Run {
  readonly reporter: Reporter;
  readonly abort = new AbortController();
  private readonly clients: FerryClient[] = [];
  private readonly knownHosts: KnownHostsFile;

  constructor(readonly opts: CommonOptions) {
    // Each connection and transfer of a --parallel run listens to this one signal: many is normal.
    setMaxListeners(0, this.abort.signal);
    this.reporter = createReporter({ quiet: opts.quiet ?? false });
    this.knownHosts = new KnownHostsFile(opts.knownHosts);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private onTrust = (d: TrustDecision, server: string): void => {
    if (d.kind === 'first-use') {
      this.reporter.note(
        `Trusting the certificate of ${server} on first use (${d.reason}; ${d.fingerprint}); recorded in ${d.location}.`,
      );
    } else if (d.kind === 'ca' && d.recordedIn !== undefined) {
      this.reporter.note(
        `Recorded ${server} as CA-verified in ${d.recordedIn}: a certificate no CA vouches for will be refused.`,
      );
    } else if (d.kind === 'insecure' && !this.warnedInsecure.has(server)) {
      // Once per server (not per connection of a --parallel run), each one named.
      this.warnedInsecure.add(server);
      this.reporter.note(`Warning: not verifying the certificate of ${server} (--insecure).`);
    }
  };
  private readonly warnedInsecure = new Set<string>();

  /** The login of each user@host:port (or URL with its password): looked up once per run. */
  private readonly logins = new Map<string, Promise<Login>>();

  /**
   * The user and password for a URL: the URL's, FERRY_PASSWORD or ~/.netrc (read once per run, not
   * once per connection of a --parallel run); else, on a terminal, a named user is asked for one
   * (as curl -u USER and lftp do), once per run too.
   */
  private login(u: FtpUrl, clientCertificate: boolean): Promise<Login> {
    const key = JSON.stringify([u.user, u.password, u.host, u.port]);
    let login = this.logins.get(key);
    if (!login) {
      login = resolveCredentials(u, { clientCertificate }).catch((err: unknown) => {
        if (!process.stdin.isTTY || u.user === undefined || u.password !== undefined || clientCertificate)
          throw err;
        const user = u.user;
        return promptHidden(`Password for ${printable(`${user}@${u.host}:${u.port}`)}: `).then(
          (password) => ({ user, password }),
        );
      });
      this.logins.set(key, login);
    }
    return login;
  }

  /** --ca, --cert and --key, read once per run. */
  private files?: Promise<{ ca: Buffer | undefined; clientCertificate: ClientCertificate | undefined }>;

  async options(u: FtpUrl): Promise<Partial<ClientOptions>> {
    const o = this.opts;
    if (u.security === 'none' && !o.allowPlain) {
      throw new FerryError(
        'ERR_USAGE',
        'ftp:// is plain FTP (the password travels in clear): add --allow-plain to use it, or use ftpes:// or ftps://.',
      );
    }
    if (o.auth !== undefined && u.security !== 'explicit') {
      throw new FerryError(
        'ERR_USAGE',
        '--auth applies to explicit FTPS (ftpes://) only: implicit FTPS never sends AUTH.',
      );
    }
    this.files ??= (async () => ({
      ca: o.ca === undefined ? undefined : await readCaFile(o.ca),
      clientCertificate: await clientCertificateOf(o),
    }))();
    const { ca, clientCertificate } = await this.files;
    const { user, password } = await this.login(u, clientCertificate !== undefined);
    const timeoutMs = o.timeout !== undefined ? Math.round(o.timeout * 1000) : undefined;
    return {
      user,
      password,
      ...trustPolicy(o, this.knownHosts),
      ...(ca ? { ca } : {}),
      ...(clientCertificate && { clientCertificate }),
      authMechanism: o.auth === 'ssl' ? 'SSL' : 'TLS',
      dataProtection: o.prot === 'c' ? 'clear' : 'private',
      dataMode: o.active ? 'active' : 'passive',
      disableEpsv: o.disableEpsv ?? false,
      minTlsVersion: o.tlsMin ?? 'TLSv1.2',
      allowPlain: o.allowPlain ?? false,
      ...(timeoutMs !== undefined
        ? { connectTimeoutMs: timeoutMs, replyTimeoutMs: timeoutMs, dataTimeoutMs: timeoutMs }
        : {}),
      ...(o.verbose ? { log: logVerbose } : {}),
      onTrust: this.onTrust,
      signal: this.signal,
    };
  }

  /** Servers (`security://host:port`) that greeted a connection of this run. */
  private readonly greeted = new Set<string>();

  async connect(urlText: string): Promise<{ client: FerryClient; url: FtpUrl }> {
    const url = parseFtpUrl(urlText);
    const server = `${url.security}://${url.host}:${url.port}`;
    let client: FerryClient;
    try {
      client = await FerryClient.connect(urlText, await this.options(url));
    } catch (err) {
      // A reconnect (or another --parallel connection) to a server that answered before: its
      // silence is no sign of the wrong port or mode.
      throw err instanceof NoGreetingError && this.greeted.has(server) ? err.again() : err;
    }
    this.greeted.add(server);
    this.clients.push(client);
    return { client, url };
  }

  /** Opens another connection like `urlText` (parallel transfers). */
  async another(urlText: string): Promise<FerryClient> {
    return (await this.connect(urlText)).client;
  }

  async execute(fn: (run: Run) => Promise<ExitCode | void>): Promise<void> {
    const onSigint = (): void => {
      if (this.abort.signal.aborted) process.exit(EXIT.interrupted);
      this.reporter.note('Interrupted: aborting…');
      this.abort.abort();
    };
    process.on('SIGINT', onSigint);
    let code: ExitCode;
    try {
      code = (await fn(this)) ?? EXIT.ok;
    } catch (err) {
      this.reporter.stop();
      code = this.signal.aborted ? EXIT.interrupted : exitCodeFor(err);
      process.stderr.write(`ferry: ${describeError(err)}\n`);
    } finally {
      this.reporter.stop();
      await Promise.all(this.clients.map((c) => c.close()));
      process.off('SIGINT', onSigint);
    }
    process.exitCode = code;
  }
}

function requireUrl(text: string, what: string): void {
  if (!isFtpUrl(text)) {
    throw new FerryError(
      'ERR_USAGE',
      `${what} must be an ftps://, ftpes:// or ftp:// URL, got ${JSON.stringify(redactUrl(text))}.`,
    );
  }
}

function formatEntry(e: RemoteEntry): string {
  // A mode the server did not send is shown unknown (as `ls -l` does), not made up.
  const mode = e.mode === undefined ? formatUnknownMode(e.type) : formatMode(e.type, e.mode);
  // What the server reported, as --json shows it (directories too: many servers give a size); - for none.
  const size = e.size === null ? '-' : String(e.size);
  // A name or link target is the server's: control characters (a terminal escape) are shown escaped.
  const shown = printableName(e.name);
  const name =
    e.type === 'dir'
      ? `${shown}/`
      : e.type === 'link' && e.target
        ? `${shown} -> ${printableName(e.target)}`
        : shown;
  return `${mode} ${size.padStart(12)}  ${formatModified(e.modified, e.modifiedPrecisionMs)}  ${name}`;
}

/** What a get/put of several files needs from the run. */
function batchRun(run: Run, o: TransferOptions): BatchRun {
  return {
    reporter: run.reporter,
    signal: run.signal,
    parallel: o.parallel ?? 1,
    resume: o.resume ?? false,
    remoteTime: o.remoteTime ?? false,
    retries: o.retry ?? DEFAULT_RETRIES,
    connect: (u) => run.connect(u),
    another: (u) => run.another(u),
  };
}

/** A bar for one file transfer; updates from a Progress callback. */
function barFor(
  run: Run,
  label: string,
): { onProgress: (p: { bytes: number; total: number | undefined }) => void; done(): void } {
  let bar: ReturnType<Reporter['bar']> | undefined;
  return {
    onProgress: (p) => {
      bar ??= run.reporter.bar(printableName(label), p.total);
      bar.update(p.bytes, p.total);
    },
    done: () => bar?.done(),
  };
}

type LsOptions = CommonOptions & { names?: boolean; json?: boolean; all?: boolean };

/** The options get and put share. */
type TransferOptions = CommonOptions & { resume?: boolean; retry?: number; remoteTime?: boolean };

/** -R, as curl's: the copy gets the source's modification time. */
function remoteTimeOption(direction: 'get' | 'put'): Option {
  return new Option(
    '-R, --remote-time',
    direction === 'get'
      ? "give each downloaded file the server's modification time (MDTM, else MLST)"
      : "give each uploaded file the local file's modification time (MFMT, where the server allows it)",
  );
}

/** `ferry ls URL;type=d`: the names the server's NLST gives (RFC 1738), one a line. */
async function listNames(run: Run, urlText: string, o: LsOptions): Promise<void> {
  if (o.json || o.all) throw new FerryError('ERR_USAGE', ';type=d lists names only (NLST): no --json or -a.');
  const { client, url } = await run.connect(urlText);
  const names = (await client.listRaw(url.path, 'NLST', { signal: run.signal }))
    .split(/\r?\n/)
    .filter((l) => l !== '')
    .sort();
  process.stdout.write(showRawBytes(names.map((n) => `${printableName(n)}\n`).join('')));
}

export function registerClientCommands(program: Command): void {
  const command = (name: string, description: string): Command => {
    const cmd = program.command(name).description(description);
    addCommonOptions(cmd);
    cmd.exitOverride(usageExit);
    return cmd;
  };

  command('ls', 'list a remote directory (or show one file)')
    .argument('<url>', 'remote directory or file')
    .option('-1, --names', 'names only, one per line')
    .option('--json', 'JSON output')
    .option('-a, --all', 'dot-files too, from servers without MLSD (LIST -a)')
    .action(async (urlText: string, o: LsOptions) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        if (parseFtpUrl(urlText).namesOnly) return listNames(run, urlText, o);
        const { client, url } = await run.connect(urlText);
        let entries: RemoteEntry[];
        try {
          // `dir/`: a directory is asked for, a file is refused (without it: the file's one entry).
          entries = await client.list(url.path, {
            signal: run.signal,
            all: o.all ?? false,
            directory: url.trailingSlash,
          });
        } catch (err) {
          if (!(err instanceof ReplyError) || url.path === '' || url.trailingSlash) throw err;
          const one = await client.stat(url.path).catch(() => undefined);
          if (!one || one.type === 'dir') throw err;
          entries = [one];
        }
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        let out: string;
        if (o.json) {
          // Every key in every entry, null when the server did not tell (the README lists them).
          out = JSON.stringify(
            entries.map((e) => ({
              name: e.name,
              type: e.type,
              size: e.size,
              modified: e.modified.getTime() === 0 ? null : e.modified.toISOString(),
              // How much of `modified` the server told (LIST: a day or a minute); the rest is zeros.
              modifiedPrecision: e.modified.getTime() === 0 ? null : timePrecision(e.modifiedPrecisionMs),
              mode: e.mode === undefined ? null : e.mode.toString(8).padStart(4, '0'),
              target: e.target ?? null,
            })),
            null,
            2,
          );
          out += '\n';
        } else {
          out = entries.map((e) => `${o.names ? printableName(e.name) : formatEntry(e)}\n`).join('');
        }
        process.stdout.write(showRawBytes(out));
      });
    });

  command('get', 'download files: one, several, or those matching a pattern (mget)')
    .argument(
      '<urls...>',
      "remote file URL(s), patterns in the last segment allowed ('ftps://h/logs/*.gz'), then optionally the local file or directory (default: here; - for stdout)",
    )
    .option('-c, --resume', 'continue partial downloads (REST)')
    .addOption(remoteTimeOption('get'))
    .addOption(retryOption())
    .action(async (args: string[], o: TransferOptions) => {
      await new Run(o).execute(async (run) => {
        const sources = [...args];
        const local = sources.length > 1 && !isFtpUrl(sources.at(-1) ?? '') ? sources.pop() : undefined;
        for (const s of sources) requireUrl(s, 'Each source');
        if (isRemoteBatch(sources)) return getBatch(batchRun(run, o), sources, local);
        const urlText = sources[0] as string;
        const url = parseFtpUrl(urlText);
        const remotePath = unquotedLast(url.pattern);
        const name = remoteBasename(remotePath);
        if (url.path === '' || url.trailingSlash)
          throw new FerryError('ERR_USAGE', 'The URL names a directory; use mirror for directories.');
        if (local === '-') {
          const { client } = await run.connect(urlText);
          const out = stdoutTarget();
          await client.get(remotePath, out.local, { end: out.end, signal: run.signal });
          return;
        }
        const target = await downloadTarget(local ?? name, name);
        // What -c found: a download that could not continue after it starts over, and says so.
        const held = o.resume
          ? await stat(target).then(
              (st) => (st.isFile() ? st.size : 0),
              () => 0,
            )
          : 0;
        const { client } = await run.connect(urlText);
        const batch = batchRun(run, o);
        const conn = stepConnection(batch, client, urlText);
        const bar = barFor(run, name);
        try {
          const job = { remote: remotePath, local: target, size: undefined };
          const bytes = await transferOne(batch, client, urlText, job, 'download', bar.onProgress);
          bar.done();
          // What the file held before: its size now less what this run brought.
          const offset = o.resume ? (await stat(target)).size - bytes : 0;
          if (offset > 0) run.reporter.note(`Resumed at ${humanBytes(offset)}; ${humanBytes(bytes)} more.`);
          else if (held > 0)
            run.reporter.note(
              `Not resumed: the server tells no size (SIZE) to check a continued download against; downloaded the whole file.`,
            );
          if (o.remoteTime) {
            // On a live connection: a retried download may have lost the first one (as a batch's -R).
            const live = await conn.live().catch(() => conn.client);
            const note = await keepRemoteTime(live, remotePath, target);
            if (note !== undefined) run.reporter.note(note);
          }
        } finally {
          bar.done();
          await conn.close();
        }
      });
    });

  command('cat', 'write remote files to stdout, one after the other')
    .argument('<urls...>', 'remote file(s)')
    .action(async (urlTexts: string[], o: CommonOptions) => {
      await new Run(o).execute(async (run) => {
        for (const u of urlTexts) requireUrl(u, 'Each URL');
        // In order, each whole before the next (as curl does); the first failure ends the run.
        const clients = new Map<string, FerryClient>();
        for (const urlText of urlTexts) {
          const url = parseFtpUrl(urlText);
          const server = JSON.stringify([url.scheme, url.host, url.port, url.user]);
          let client = clients.get(server);
          if (!client) {
            client = (await run.connect(urlText)).client;
            clients.set(server, client);
          }
          const out = stdoutTarget();
          await client.get(unquotedLast(url.pattern), out.local, { end: out.end, signal: run.signal });
        }
      });
    });

  command('put', 'upload files: one, several, or those matching a pattern (mput)')
    .argument(
      '<args...>',
      "local file(s) (- for stdin) or quoted patterns ('c*.log'), then the remote file or directory URL (ending in / for a directory)",
    )
    .option('-c, --resume', 'continue partial uploads (REST, or APPE)')
    .option('--append', 'append to the remote file (APPE)')
    .addOption(remoteTimeOption('put'))
    .addOption(retryOption())
    .action(
      async (
        args: string[],
        o: CommonOptions & { resume?: boolean; append?: boolean; retry?: number; remoteTime?: boolean },
      ) => {
        await new Run(o).execute(async (run) => {
          const sources = args.slice(0, -1);
          const urlText = args.at(-1) ?? '';
          if (sources.length === 0)
            throw new FerryError('ERR_USAGE', 'put needs at least one local file and a URL.');
          requireUrl(urlText, 'The last argument');
          if (o.resume && o.append)
            throw new FerryError('ERR_USAGE', '--resume and --append do not go together.');
          if (await isLocalBatch(sources)) {
            if (o.append) throw new FerryError('ERR_USAGE', '--append takes one source file.');
            return putBatch(batchRun(run, o), sources, urlText);
          }
          const local = await localSource(sources[0] as string);
          const url = parseFtpUrl(urlText);
          const { client } = await run.connect(urlText);
          const batch = batchRun(run, o);
          // The check of the target and -R, retried and reconnected as the upload is.
          const conn = stepConnection(batch, client, urlText);
          const name = local === '-' ? 'stdin' : path.basename(local);
          const bar = barFor(run, name);
          try {
            let remote = url.path;
            if (remote === '' || url.trailingSlash || (await isRemoteDirectory(batch, conn, remote))) {
              if (local === '-')
                throw new FerryError('ERR_USAGE', 'Uploading stdin needs a remote file name.');
              remote = joinRemote(remote, name);
            }
            // A stream cannot be sent again, nor an append repeated: only a file goes over --retry.
            if (local === '-' || o.append)
              await conn.client.put(local === '-' ? process.stdin : local, remote, {
                resume: o.resume ?? false,
                append: o.append ?? false,
                signal: run.signal,
                onProgress: bar.onProgress,
              });
            else {
              const job = { remote, local, size: undefined };
              await transferOne(batch, conn.client, urlText, job, 'upload', bar.onProgress);
            }
            bar.done();
            if (o.remoteTime && local !== '-') {
              const live = await conn.live().catch(() => conn.client);
              const note = await keepLocalTime(live, local, remote);
              if (note !== undefined) run.reporter.note(note);
            }
          } finally {
            bar.done();
            await conn.close();
          }
        });
      },
    );

  command('mirror', 'mirror a directory tree: SRC and DST are a URL and a local directory, either way')
    .argument('<src>', 'source (URL or local directory)')
    .argument('<dst>', 'destination (local directory or URL)')
    .option('--delete', 'delete destination files that the source does not have')
    .option('-n, --dry-run', 'show what would be done, change nothing')
    .option(
      '--verify',
      'compare files of the same size by checksum (HASH, XSHA256, XMD5/MD5 when the server has one)',
    )
    .option('--no-perms', 'do not give files and directories the permissions of the source')
    .option(
      '--size-only',
      'files of the same size are unchanged, whatever their times (a fresh checkout); --verify still compares checksums',
    )
    .option(
      '--exclude <glob>',
      'leave out entries whose relative path or name matches (repeatable; never deleted)',
      collect,
    )
    .option(
      '--include <glob>',
      'an exception to --exclude; alone: only the files it matches (repeatable)',
      collect,
    )
    .option(
      '-c, --continue',
      'continue a destination file smaller than the source (REST or APPE), then check its size (and checksum with --verify)',
    )
    .addOption(retryOption())
    .action(
      async (
        src: string,
        dst: string,
        o: CommonOptions & {
          delete?: boolean;
          dryRun?: boolean;
          verify?: boolean;
          sizeOnly?: boolean;
          perms?: boolean;
          exclude?: string[];
          include?: string[];
          retry?: number;
          continue?: boolean;
        },
      ) => {
        await new Run(o).execute(async (run) => {
          const srcUrl = isFtpUrl(src);
          const dstUrl = isFtpUrl(dst);
          if (srcUrl === dstUrl) {
            throw new FerryError('ERR_USAGE', 'mirror needs one URL and one local directory (either order).');
          }
          const urlText = srcUrl ? src : dst;
          const localDir = srcUrl ? dst : src;
          const { client, url } = await run.connect(urlText);
          const arrow = srcUrl ? '↓' : '↑';
          const bars = new Map<string, ReturnType<typeof barFor>>();
          const tally: MirrorTally = {
            planned: undefined,
            transferred: 0,
            bytes: 0,
            failed: 0,
            failedBytes: 0,
            unlisted: 0,
            conflicts: 0,
            unmade: 0,
            unsent: 0,
            deleted: 0,
          };
          const mirrored = mirror(client, {
            direction: srcUrl ? 'download' : 'upload',
            local: localDir,
            remote: url.path,
            delete: o.delete ?? false,
            dryRun: o.dryRun ?? false,
            verify: o.verify ?? false,
            sizeOnly: o.sizeOnly ?? false,
            perms: o.perms !== false,
            exclude: o.exclude ?? [],
            include: o.include ?? [],
            parallel: o.parallel ?? 1,
            retries: o.retry ?? DEFAULT_RETRIES,
            continue: o.continue ?? false,
            connect: () => run.another(urlText),
            signal: run.signal,
            onEvent: (e) => {
              switch (e.kind) {
                case 'start':
                  if (o.dryRun) {
                    tally.transferred++;
                    tally.bytes += e.size ?? 0;
                    run.reporter.note(
                      `would transfer ${printableName(e.path)} (${e.size === undefined ? 'size unknown' : humanBytes(e.size)})`,
                    );
                  } else bars.set(e.path, barFor(run, `${arrow} ${printableName(e.path)}`));
                  break;
                case 'progress':
                  bars.get(e.path)?.onProgress(e);
                  break;
                case 'planned':
                  tally.planned = e.files;
                  break;
                case 'done':
                  tally.transferred++;
                  tally.bytes += e.bytes;
                  bars.get(e.path)?.done();
                  bars.delete(e.path);
                  if (!process.stderr.isTTY)
                    run.reporter.note(`${arrow} ${printableName(e.path)} (${humanBytes(e.bytes)})`);
                  break;
                case 'delete':
                  tally.deleted++;
                  run.reporter.note(`${o.dryRun ? 'would delete' : 'deleted'} ${printableName(e.path)}`);
                  break;
                case 'skip':
                  run.reporter.note(`skipped ${printableName(e.path)}: ${printable(e.reason)}`);
                  break;
                case 'note':
                  run.reporter.note(`${printableName(e.path)}: ${printable(e.message)}`);
                  break;
                case 'failed':
                  bars.get(e.path)?.done();
                  bars.delete(e.path);
                  // A file cut short by Ctrl-C is one not transferred, as in a batch, not a failure.
                  if (run.signal.aborted && failureKind(e.error) === 'aborted') break;
                  // Type conflicts and directories not listed or not made are no file of the plan.
                  if (e.conflict) tally.conflicts++;
                  else if (e.directory) tally.unmade++;
                  else if (tally.planned === undefined) tally.unlisted++;
                  else {
                    tally.failed++;
                    tally.failedBytes += e.bytes ?? 0;
                  }
                  run.reporter.note(`failed ${printableName(e.path)}: ${describeError(e.error)}`);
                  break;
                case 'retry':
                  run.reporter.note(
                    `retrying ${e.listing ? listingOf(joinRemote(url.path, e.path)) : printableName(e.path)} (${e.retry} of ${e.retries}) after ${describeError(e.error)}`,
                  );
                  break;
                case 'reconnect':
                  run.reporter.note(describeReconnect(e));
                  break;
                case 'lost':
                  // Once for the files never tried, not a failure line each.
                  tally.unsent = e.files;
                  run.reporter.note(describeLost(e.error, e.files));
                  break;
                case 'unchanged':
                case 'mkdir':
                  break;
              }
            },
          });
          // The bars end first: their final lines stay above the summary.
          const result = await mirrored
            .finally(() => {
              for (const b of bars.values()) b.done();
            })
            .catch((err: unknown) => {
              // Failed files or directories, or Ctrl-C: the summary still says what was (or would
              // be) done before the error.
              const summary = unfinishedMirrorSummary(tally, {
                interrupted: run.signal.aborted,
                dryRun: o.dryRun ?? false,
                delete: o.delete ?? false,
              });
              if (summary !== undefined) run.reporter.note(summary);
              throw err;
            });
          if (o.verify) run.reporter.note(verifySummary(result));
          run.reporter.note(mirrorSummary(result, o.dryRun ?? false));
        });
      },
    );

  command('rm', 'remove a remote file (or directory with -r or -d)')
    .argument('<url>', 'remote file or directory')
    .option('-r, --recursive', 'remove a directory and everything in it')
    .option('-d, --dir', 'remove an empty directory (RMD)')
    .action(async (urlText: string, o: CommonOptions & { recursive?: boolean; dir?: boolean }) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        const { client, url } = await run.connect(urlText);
        if (url.path === '') throw new FerryError('ERR_USAGE', 'Refusing to remove the login directory.');
        if (o.dir) await client.removeDir(url.path);
        else await client.remove(url.path, { recursive: o.recursive ?? false, signal: run.signal });
      });
    });

  command('mkdir', 'make a remote directory')
    .argument('<url>', 'remote directory')
    .option('-p, --parents', 'make missing parents; no error if it exists')
    .action(async (urlText: string, o: CommonOptions & { parents?: boolean }) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        const { client, url } = await run.connect(urlText);
        if (url.path === '') throw new FerryError('ERR_USAGE', 'The URL names no directory to make.');
        await client.mkdir(url.path, { parents: o.parents ?? false });
      });
    });

  command('mv', 'rename or move a remote file or directory')
    .argument('<url>', 'remote file or directory')
    .argument('<newpath>', 'new path on the same server (relative to the login directory, or a URL)')
    .action(async (urlText: string, newPath: string, o: CommonOptions) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        const url = parseFtpUrl(urlText);
        let to = newPath;
        if (isFtpUrl(newPath)) {
          const n = parseFtpUrl(newPath);
          if (n.host !== url.host || n.port !== url.port)
            throw new FerryError('ERR_USAGE', 'mv works within one server.');
          to = n.path;
        }
        if (url.path === '' || to === '')
          throw new FerryError('ERR_USAGE', 'mv needs a source and a target path.');
        const { client } = await run.connect(urlText);
        await client.rename(url.path, to);
      });
    });

  command('chmod', 'change the permissions of a remote file (SITE CHMOD)')
    .argument('<mode>', 'octal mode of 1 to 4 digits, e.g. 644')
    .argument('<url>', 'remote file or directory')
    .action(async (mode: string, urlText: string, o: CommonOptions) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        // 1 to 4 octal digits, as chmod(1) takes them (`0`, `44`, `0644`).
        if (parseChmodMode(mode) === undefined)
          throw new FerryError('ERR_USAGE', `Not an octal mode: ${mode}`);
        const { client, url } = await run.connect(urlText);
        await client.chmod(url.path, mode);
      });
    });

  command('quote', 'send a raw command and print the reply')
    .argument('<url>', 'server (a path changes directory first)')
    .argument('<command...>', 'the command and its arguments (REIN and CCC included)')
    .action(async (urlText: string, words: string[], o: CommonOptions) => {
      await new Run(o).execute(async (run) => {
        requireUrl(urlText, 'URL');
        const line = words.join(' ');
        const reserved = checkQuote(line, parseFtpUrl(urlText));
        const { client, url } = await run.connect(urlText);
        if (url.path !== '') await client.cd(url.path);
        const r =
          reserved === 'reinitialize'
            ? await client.reinitialize()
            : reserved === 'clear-control'
              ? await client.ccc()
              : await client.send(line);
        process.stdout.write(formatReply(r).replaceAll('\r\n', '\n'));
        return isNegative(r) ? EXIT.remote : EXIT.ok;
      });
    });
}

/** What `ferry quote` says about a command the client sends itself: the command or flag to use. */
const QUOTE_ADVICE: Readonly<
  Record<Exclude<ReservedKind, 'reinitialize' | 'clear-control' | 'representation'>, string>
> = {
  auth: 'ferry negotiates TLS itself: ftpes:// sends AUTH TLS (--auth ssl for AUTH SSL), ftps:// starts with TLS',
  protection:
    'ferry sends PBSZ and PROT itself: choose the data protection with --prot p (default) or --prot c',
  login:
    'ferry logs in itself: the user comes from the URL (ftpes://USER@host/), the password from the URL, FERRY_PASSWORD or ~/.netrc',
  quit: 'ferry sends QUIT itself after the command',
  abort: 'press Ctrl-C to abort a running ferry get, put or mirror',
  download: 'it needs a data connection: use ferry get or ferry cat',
  upload: 'it needs a data connection: use ferry put (--append for APPE, -c to resume)',
  listing: 'it needs a data connection: use ferry ls (-1 for names, --json for details)',
};

/**
 * Checks a `quote` command before connecting. REIN and CCC run through the client's own methods
 * (which renegotiate TLS and log in again, or continue in clear); the other commands the client
 * sends itself are refused with the ferry command or flag that does the job.
 */
function checkQuote(line: string, url: FtpUrl): ReservedKind | undefined {
  const reserved = reservedCommand(line);
  // TYPE, MODE, STRU: harmless here, the session ends after this one command.
  if (!reserved || reserved.kind === 'representation') return undefined;
  const { verb, kind } = reserved;
  if (kind === 'reinitialize' || kind === 'clear-control') {
    if (verbOf(line) !== line.trim().toUpperCase())
      throw new FerryError('ERR_USAGE', `quote ${verb} takes no arguments.`);
    if (kind === 'clear-control' && url.security !== 'explicit')
      throw new FerryError(
        'ERR_USAGE',
        `quote CCC needs explicit FTPS (ftpes://): ${url.security === 'implicit' ? 'on ftps:// (implicit FTPS) every server refuses it (MS-FTPS 3.1.5.2)' : 'ftp:// has no TLS to end'}.`,
      );
    return kind;
  }
  throw new FerryError('ERR_USAGE', `quote ${verb}: ${QUOTE_ADVICE[kind]}.`);
}
