import { createReadStream, createWriteStream } from 'node:fs';
import { stat as fsStat, unlink } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type tls from 'node:tls';
import { FerryError, ReplyError } from '../errors.js';
import { parseFeatures } from '../protocol/features.js';
import {
  formatTimeVal,
  isSelfOrParent,
  parseListLine,
  parseMlsxLine,
  parseTimeVal,
  type ListEntry,
} from '../protocol/listing.js';
import type { Reply } from '../protocol/reply.js';
import { ControlConnection, type ProtocolLogger } from './control.js';
import { ConnectionError, LoginError } from './errors.js';
import { collector, runTransfer, type DataOptions, type DataState, type TransferBody } from './transfer.js';
import { checkServerCertificate, serverKey, type KnownHostsStore, type TrustDecision } from './trust.js';
import {
  DEFAULT_PORTS,
  parseFtpUrl,
  remoteBasename,
  remoteDirname,
  joinRemote,
  resolveCredentials,
  type CredentialSources,
  type Security,
} from './url.js';

/**
 * FerryClient: the client role of FTPS (RFC 4217, MS-FTPS 3.1) as a typed API.
 *
 *   const client = await FerryClient.connect('ftpes://user@host/');   // password from FERRY_PASSWORD/.netrc
 *   await client.put('local.bin', 'remote.bin');
 *   for (const e of await client.list('dir')) console.log(e.name, e.size);
 *   await client.close();
 *
 * One operation at a time per client (a second concurrent call fails with ERR_BUSY); use several
 * clients for parallel transfers. Errors are FerryErrors: ReplyError carries the server's reply,
 * LoginError a refused login, CertificateError an untrusted certificate.
 */

export interface ClientOptions {
  readonly host: string;
  /** Default: 990 for implicit, 21 otherwise. */
  readonly port?: number;
  /** 'implicit' (TLS first, ftps://), 'explicit' (AUTH TLS, ftpes://; the default) or 'none' (plain FTP). */
  readonly security?: Security;
  /** Required for security 'none': plain FTP sends the password in clear. */
  readonly allowPlain?: boolean;
  /** Default 'anonymous'. */
  readonly user?: string;
  readonly password?: string;
  /** AUTH TLS (default) or AUTH SSL (legacy servers, MS-FTPS 3.1.5.4). Explicit FTPS only. */
  readonly authMechanism?: 'TLS' | 'SSL';
  /** PROT P (default) or PROT C (data in clear). */
  readonly dataProtection?: 'private' | 'clear';
  /** Passive (EPSV, then PASV; default) or active (EPRT, then PORT). */
  readonly dataMode?: 'passive' | 'active';
  /** Passive mode with PASV only (no EPSV), e.g. for a middlebox that only knows PASV. */
  readonly disableEpsv?: boolean;
  /** Trusted CA certificates (PEM) instead of the system's. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Skip all certificate checks. */
  readonly insecure?: boolean;
  /** Accept exactly these certificates (`sha256:AB:…`). */
  readonly fingerprints?: readonly string[];
  /** Known-hosts store for certificates no CA vouches for (trust on first use). */
  readonly knownHosts?: KnownHostsStore;
  /** Record an unknown certificate in `knownHosts` and accept it. */
  readonly trustOnFirstUse?: boolean;
  /** Lowest TLS version; default TLSv1.2 (TLSv1 and TLSv1.1 only when asked). */
  readonly minTlsVersion?: tls.SecureVersion;
  readonly maxTlsVersion?: tls.SecureVersion;
  /** SNI and certificate name; default the host (unless it is an IP address). */
  readonly servername?: string;
  /** Send `OPTS UTF8 ON` when the server offers UTF8 (default true). */
  readonly utf8?: boolean;
  readonly connectTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
  /** A data connection without traffic for this long fails the transfer. */
  readonly dataTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Sees the command/reply dialogue (PASS masked). */
  readonly log?: ProtocolLogger;
  /** Told how the server's certificate was trusted (e.g. to announce a first use). */
  readonly onTrust?: (decision: TrustDecision, server: string) => void;
  /** Cancels connecting and logging in. */
  readonly signal?: AbortSignal;
}

/** A listing entry; `modifiedPrecisionMs` says how exact `modified` is (LIST shows minutes or days). */
export interface RemoteEntry extends ListEntry {
  readonly modifiedPrecisionMs: number;
}

export interface Progress {
  readonly bytes: number;
  /** Bytes expected in this transfer, when known. */
  readonly total: number | undefined;
}

export interface TransferOptions {
  /** Start at this byte (REST). */
  readonly offset?: number;
  /** Continue an interrupted transfer: the offset is the size of what the target already has. */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

export interface GetOptions extends TransferOptions {
  /** End the destination stream at the end (default true; false for e.g. stdout). */
  readonly end?: boolean;
}

export interface PutOptions extends TransferOptions {
  /** APPE: append to the remote file. */
  readonly append?: boolean;
  /** The size of a stream source, for progress. */
  readonly size?: number;
}

export interface TransferSummary {
  readonly bytes: number;
  /** The offset the transfer started at (resume). */
  readonly offset: number;
  readonly reply: Reply;
}

/** File stream buffer: big enough to batch many 16 KiB TLS records per system call. */
const FILE_CHUNK = 1024 * 1024;

const DEFAULTS = {
  connectTimeoutMs: 15_000,
  replyTimeoutMs: 30_000,
  dataTimeoutMs: 60_000,
};

const replyText = (r: Reply): string => r.lines.join(' ');
const isOk = (r: Reply): boolean => r.code >= 200 && r.code < 300;

/** Text of a 257 reply's quoted path (`"/a ""b"""` → `/a "b"`). */
export function parsePwdReply(r: Reply): string | undefined {
  const m = /"((?:[^"]|"")*)"/.exec(r.lines[0]);
  return m ? (m[1] ?? '').replaceAll('""', '"') : undefined;
}

/** The precision of a LIST line's date: minutes when it shows a time, else days. */
function listPrecision(line: string): number {
  return /\s\d{1,2}:\d{2}(?::\d{2})?\s/.test(line) ? 60_000 : 86_400_000;
}

/** Parses MLSD output into entries (without `.`/`..`). */
export function parseMlsdText(text: string): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseMlsxLine(line);
    if (!e || isSelfOrParent(e)) continue;
    const { facts: _f, dirKind: _d, ...entry } = e;
    out.push({
      ...entry,
      modifiedPrecisionMs: e.facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
    });
  }
  return out;
}

/** Parses LIST output (Unix `ls -l` or MS-DOS/IIS) into entries (without `.`/`..`). */
export function parseListText(text: string, now: Date = new Date()): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseListLine(line, now);
    if (!e || isSelfOrParent(e)) continue;
    out.push({ ...e, modifiedPrecisionMs: /<DIR>|^\d/.test(line) ? 60_000 : listPrecision(line) });
  }
  return out;
}

function validate(o: ClientOptions): void {
  const bad = (key: string, msg: string): never => {
    throw new FerryError('ERR_INVALID_OPTION', `options.${key}: ${msg}`);
  };
  if (typeof o.host !== 'string' || o.host === '') bad('host', 'a host name or address is required.');
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) {
    bad('port', 'must be an integer from 1 to 65535.');
  }
  if (o.security !== undefined && !['implicit', 'explicit', 'none'].includes(o.security)) {
    bad('security', "must be 'implicit', 'explicit' or 'none'.");
  }
  if (o.security === 'none' && !o.allowPlain) {
    bad('allowPlain', 'plain FTP sends the password in clear; set allowPlain: true to really do that.');
  }
  if (o.authMechanism !== undefined && o.authMechanism !== 'TLS' && o.authMechanism !== 'SSL') {
    bad('authMechanism', "must be 'TLS' or 'SSL'.");
  }
  if (o.authMechanism === 'SSL' && o.security === 'implicit') {
    bad('authMechanism', 'AUTH is never sent on implicit FTPS (MS-FTPS 3.1.5.6).');
  }
  for (const key of ['connectTimeoutMs', 'replyTimeoutMs', 'dataTimeoutMs', 'handshakeTimeoutMs'] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0))
      bad(key, 'must be a positive number of milliseconds.');
  }
  if (o.trustOnFirstUse && !o.knownHosts) bad('knownHosts', 'trustOnFirstUse needs a knownHosts store.');
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function pathArg(p: string): string {
  if (/[\r\n]/.test(p)) throw new FerryError('ERR_USAGE', 'A path must not contain a line break.');
  return p;
}

export class FerryClient {
  private busy: string | undefined;
  private featureMap: ReadonlyMap<string, string> = new Map();
  private prot: 'P' | 'C' | undefined;
  private home: string | undefined;
  private readonly dataState: DataState;
  private readonly tlsOptions: tls.ConnectionOptions;
  private readonly security: Security;
  private readonly opts: ClientOptions;
  private control!: ControlConnection;

  private constructor(opts: ClientOptions) {
    this.opts = opts;
    this.security = opts.security ?? 'explicit';
    this.dataState = { epsvRefused: opts.disableEpsv ?? false, eprtRefused: false };
    const minVersion = opts.minTlsVersion ?? 'TLSv1.2';
    const legacy = minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
    const servername = opts.servername ?? (isIpAddress(opts.host) ? undefined : opts.host);
    this.tlsOptions = {
      host: opts.host,
      ...(servername !== undefined ? { servername } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca as string | Buffer | (string | Buffer)[] } : {}),
      minVersion,
      ...(opts.maxTlsVersion !== undefined ? { maxVersion: opts.maxTlsVersion } : {}),
      // TLS 1.0/1.1 need OpenSSL's lower security level; only when asked for.
      ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
      // The trust policy is applied after the handshake (pins, known hosts); see trust.ts.
      rejectUnauthorized: false,
    };
  }

  /**
   * Connects and logs in. A URL gives scheme, host, port and user (its path is ignored); the
   * password comes from the URL, FERRY_PASSWORD or ~/.netrc. `options` add to or override it.
   */
  static async connect(
    target: string | ClientOptions,
    options: Partial<ClientOptions> & { credentials?: CredentialSources } = {},
  ): Promise<FerryClient> {
    let o: ClientOptions;
    if (typeof target === 'string') {
      const u = parseFtpUrl(target);
      const user = options.user ?? u.user;
      const creds =
        options.password !== undefined
          ? { user: user ?? 'anonymous', password: options.password }
          : await resolveCredentials({ host: u.host, user, password: u.password }, options.credentials);
      o = {
        host: u.host,
        port: u.port,
        security: u.security,
        ...options,
        user: creds.user,
        password: creds.password,
      };
      if (u.security === 'none' && options.allowPlain === undefined) o = { ...o, allowPlain: false };
    } else {
      o = { ...target, ...options };
    }
    validate(o);
    const client = new FerryClient(o);
    await client.open();
    return client;
  }

  /** FEAT: feature name (uppercase) → parameters. */
  get features(): ReadonlyMap<string, string> {
    return this.featureMap;
  }

  /** MLSD/MLST: RFC 3659 servers announce `MLST` in FEAT; MLSD comes with it (some also list MLSD). */
  private get machineListings(): boolean {
    return this.featureMap.has('MLST') || this.featureMap.has('MLSD');
  }

  /** The session's security: how the control connection was secured at login. */
  get mode(): Security {
    return this.security;
  }

  /** True while the control connection is encrypted (false after CCC). */
  get controlProtected(): boolean {
    return this.control.secure;
  }

  /** Data protection in effect: 'P' (TLS) or 'C' (clear). */
  get dataProtection(): 'P' | 'C' {
    return this.prot ?? 'C';
  }

  /** The login directory (from PWD), if the server told it. */
  get homeDirectory(): string | undefined {
    return this.home;
  }

  /** Why the connection closed, or undefined while it is open. */
  get closedReason(): FerryError | undefined {
    return this.control.failure;
  }

  get closed(): boolean {
    return this.control.failure !== undefined;
  }

  /** The server certificate's TLS details (undefined without TLS). */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.control.tlsSocket;
  }

  private port(): number {
    return this.opts.port ?? (this.security === 'implicit' ? DEFAULT_PORTS.ftps : DEFAULT_PORTS.ftpes);
  }

  private async verify(sock: tls.TLSSocket): Promise<void> {
    const server = serverKey(this.opts.host, this.port());
    const decision = await checkServerCertificate(sock, server, {
      insecure: this.opts.insecure,
      fingerprints: this.opts.fingerprints,
      knownHosts: this.opts.knownHosts,
      trustOnFirstUse: this.opts.trustOnFirstUse,
    });
    this.opts.onTrust?.(decision, server);
  }

  private async open(): Promise<void> {
    const o = this.opts;
    const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.control = await ControlConnection.connect({
      host: o.host,
      port: this.port(),
      implicit: this.security === 'implicit',
      tlsOptions: this.tlsOptions,
      verify: (sock) => this.verify(sock),
      connectTimeoutMs,
      replyTimeoutMs: o.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs,
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? connectTimeoutMs,
      log: o.log,
      signal: o.signal,
    });
    try {
      await this.greetAndLogin();
    } catch (err) {
      this.control.destroy(err instanceof FerryError ? err : undefined);
      throw err;
    }
  }

  /** Greeting, then AUTH (explicit), login, FEAT, UTF8, PBSZ/PROT, TYPE I, PWD. */
  private async greetAndLogin(): Promise<void> {
    const c = this.control;
    let greeting: Reply;
    try {
      greeting = await c.read();
      while (greeting.code < 200) greeting = await c.read();
    } catch (err) {
      if (err instanceof FerryError && err.code === 'ERR_TIMEOUT' && this.security !== 'implicit') {
        throw new FerryError(
          'ERR_TIMEOUT',
          `No greeting from ${this.opts.host}:${this.port()}: an implicit FTPS server waits for TLS first (use ftps://).`,
          { cause: err },
        );
      }
      throw err;
    }
    if (greeting.code !== 220) {
      throw new ConnectionError(`The server refused the connection: ${greeting.code} ${replyText(greeting)}`);
    }
    await this.secureAndLogin();
  }

  private async secureAndLogin(): Promise<void> {
    const c = this.control;
    if (this.security === 'explicit') {
      const mech = this.opts.authMechanism ?? 'TLS';
      const r = await c.request(`AUTH ${mech}`);
      if (r.code !== 234 && r.code !== 334) {
        throw new FerryError(
          'ERR_TLS',
          `The server refused AUTH ${mech}: ${r.code} ${replyText(r)}${mech === 'TLS' ? ' (a legacy server may need AUTH SSL: --auth ssl)' : ''}`,
        );
      }
      await c.startTls();
    }
    // MS-FTPS 3.1.5.1: on implicit FTPS, PBSZ 0 and PROT P are implied, never sent.
    this.prot = this.security === 'implicit' ? 'P' : undefined;
    await this.login();
    const feat = await c.request('FEAT');
    this.featureMap = isOk(feat) ? parseFeatures(feat) : new Map();
    if ((this.opts.utf8 ?? true) && this.featureMap.has('UTF8')) await c.request('OPTS UTF8 ON');
    const wanted = this.opts.dataProtection === 'clear' ? 'C' : 'P';
    if (this.security === 'explicit') {
      await this.setProt(wanted, true);
    } else if (this.security === 'implicit' && wanted === 'C') {
      await this.setProt('C', false);
    }
    const type = await c.request('TYPE I');
    if (!isOk(type)) throw new ReplyError(type.code, replyText(type), 'TYPE I');
    const pwd = await c.request('PWD');
    this.home = pwd.code === 257 ? parsePwdReply(pwd) : undefined;
  }

  private async login(): Promise<void> {
    const c = this.control;
    const user = this.opts.user ?? 'anonymous';
    let r = await c.request(`USER ${user}`);
    if (r.code === 331) r = await c.request(`PASS ${this.opts.password ?? ''}`);
    if (r.code === 332) throw new LoginError(r.code, `${replyText(r)} (ACCT is not supported)`);
    if (r.code === 421) throw new ConnectionError(`The server closed the session: 421 ${replyText(r)}`);
    if (r.code !== 230 && r.code !== 202) throw new LoginError(r.code, replyText(r));
  }

  private async setProt(level: 'P' | 'C', pbsz: boolean): Promise<void> {
    const c = this.control;
    if (pbsz) {
      const r = await c.request('PBSZ 0');
      if (!isOk(r)) throw new FerryError('ERR_TLS', `The server refused PBSZ 0: ${r.code} ${replyText(r)}`);
    }
    const r = await c.request(`PROT ${level}`);
    if (!isOk(r)) {
      throw new FerryError('ERR_TLS', `The server refused PROT ${level}: ${r.code} ${replyText(r)}`);
    }
    this.prot = level;
  }

  /** Runs one operation; a second one while it runs is a usage error (one request at a time). */
  private async task<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy !== undefined) {
      throw new FerryError(
        'ERR_BUSY',
        `${name}: this connection is busy with ${this.busy}; await it first, or use another FerryClient for parallel work.`,
      );
    }
    const failure = this.control.failure;
    if (failure) throw failure;
    this.busy = name;
    try {
      return await fn();
    } finally {
      this.busy = undefined;
    }
  }

  /** Sends a command; throws ReplyError unless the final reply passes `ok` (default: 2xx). */
  private async command(line: string, ok: (r: Reply) => boolean = isOk): Promise<Reply> {
    const r = await this.control.request(line);
    if (!ok(r)) throw new ReplyError(r.code, replyText(r), line);
    return r;
  }

  private dataOptions(): DataOptions {
    const o = this.opts;
    return {
      mode: o.dataMode ?? 'passive',
      protect: this.prot === 'P',
      tlsOptions: this.tlsOptions,
      insecure: o.insecure ?? false,
      connectTimeoutMs: o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      dataTimeoutMs: o.dataTimeoutMs ?? DEFAULTS.dataTimeoutMs,
    };
  }

  /**
   * Runs a data command. On implicit FTPS PROT P is assumed (MS-FTPS 3.1.5.1), but some servers
   * (vsftpd) do not imply it and refuse data commands until they see it: then send PBSZ 0 and
   * PROT P once and retry.
   */
  private async transfer(
    command: string,
    body: TransferBody,
    opts: {
      signal?: AbortSignal;
      onBytes?: (n: number) => void;
      onPreliminary?: (r: Reply) => void;
      rest?: number;
    },
  ) {
    const attempt = async () => {
      if (opts.rest !== undefined && opts.rest > 0) {
        await this.command(`REST ${opts.rest}`, (r) => r.code === 350);
      }
      return runTransfer(this.control, this.dataOptions(), this.dataState, {
        command,
        body,
        signal: opts.signal,
        onBytes: opts.onBytes,
        onPreliminary: opts.onPreliminary,
      });
    };
    try {
      return await attempt();
    } catch (err) {
      if (
        this.security === 'implicit' &&
        this.prot === 'P' &&
        err instanceof ReplyError &&
        [521, 522, 534].includes(err.replyCode) &&
        !this.control.failure
      ) {
        this.control.info('The server did not imply PROT P on implicit FTPS; sending PBSZ 0 and PROT P.');
        await this.setProt('P', true);
        return attempt();
      }
      throw err;
    }
  }

  /** Lists a directory ('' = current). MLSD when offered, else LIST (parsed; Unix and MS-DOS forms). */
  list(dir = '', opts: { signal?: AbortSignal } = {}): Promise<RemoteEntry[]> {
    return this.task('list', () => this.listDir(dir, opts.signal));
  }

  private async listDir(dir: string, signal?: AbortSignal): Promise<RemoteEntry[]> {
    pathArg(dir);
    if (this.machineListings) {
      const c = collector();
      await this.transfer(
        dir === '' ? 'MLSD' : `MLSD ${dir}`,
        { direction: 'download', sink: c.sink },
        { signal },
      );
      return parseMlsdText(c.text());
    }
    // LIST arguments are options to some servers (`-l`, `-a`): change into the directory instead.
    const c = collector();
    if (dir === '' || this.home === undefined) {
      await this.transfer(
        dir === '' ? 'LIST' : `LIST ${dir}`,
        { direction: 'download', sink: c.sink },
        { signal },
      );
    } else {
      await this.command(`CWD ${dir}`);
      try {
        await this.transfer('LIST', { direction: 'download', sink: c.sink }, { signal });
      } finally {
        if (!this.control.failure) await this.command(`CWD ${this.home}`);
      }
    }
    return parseListText(c.text());
  }

  /** The unparsed text of a listing command (LIST, MLSD or NLST) for a directory ('' = current). */
  listRaw(
    dir = '',
    command: 'LIST' | 'MLSD' | 'NLST' = 'LIST',
    opts: { signal?: AbortSignal } = {},
  ): Promise<string> {
    return this.task('listRaw', async () => {
      pathArg(dir);
      const c = collector();
      if (command === 'MLSD' || dir === '' || this.home === undefined) {
        await this.transfer(
          dir === '' ? command : `${command} ${dir}`,
          { direction: 'download', sink: c.sink },
          opts,
        );
      } else {
        await this.command(`CWD ${dir}`);
        try {
          await this.transfer(command, { direction: 'download', sink: c.sink }, opts);
        } finally {
          if (!this.control.failure) await this.command(`CWD ${this.home}`);
        }
      }
      return c.text();
    });
  }

  /** Type, size and modification time of a path (MLST when offered, else SIZE/MDTM/CWD). */
  stat(path: string): Promise<RemoteEntry> {
    return this.task('stat', () => this.statPath(path));
  }

  private async statPath(path: string): Promise<RemoteEntry> {
    pathArg(path);
    const name = remoteBasename(path);
    if (this.featureMap.has('MLST')) {
      const r = await this.command(`MLST ${path}`);
      const line = r.lines.slice(1, -1).find((l) => l.startsWith(' ')) ?? r.lines.slice(1, -1)[0];
      const e = line !== undefined ? parseMlsxLine(line.startsWith(' ') ? line.slice(1) : line) : undefined;
      if (!e) throw new FerryError('ERR_PROTOCOL', `Cannot read the MLST reply for ${path}.`);
      const { facts, dirKind: _d, ...entry } = e;
      return {
        ...entry,
        name,
        modifiedPrecisionMs: facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
      };
    }
    const size = await this.control.request(`SIZE ${path}`);
    if (size.code === 213) {
      const mdtm = await this.control.request(`MDTM ${path}`);
      const modified = mdtm.code === 213 ? parseTimeVal(replyText(mdtm)) : undefined;
      return {
        name,
        type: 'file',
        size: Number(replyText(size).trim()),
        modified: modified ?? new Date(0),
        modifiedPrecisionMs: modified ? 1000 : Number.POSITIVE_INFINITY,
      };
    }
    if (await this.isDirectory(path)) {
      return {
        name,
        type: 'dir',
        size: 0,
        modified: new Date(0),
        modifiedPrecisionMs: Number.POSITIVE_INFINITY,
      };
    }
    throw new ReplyError(size.code, replyText(size), `SIZE ${path}`);
  }

  private async isDirectory(path: string): Promise<boolean> {
    if (this.featureMap.has('MLST')) {
      try {
        return (await this.statPath(path)).type === 'dir';
      } catch (err) {
        if (err instanceof ReplyError) return false;
        throw err;
      }
    }
    const r = await this.control.request(`CWD ${path}`);
    if (!isOk(r)) return false;
    if (this.home !== undefined) await this.command(`CWD ${this.home}`);
    return true;
  }

  /** The size of a remote file (SIZE), or undefined when the server cannot tell. */
  private async remoteSize(path: string): Promise<number | undefined> {
    const r = await this.control.request(`SIZE ${path}`);
    if (r.code !== 213) return undefined;
    const n = Number(replyText(r).trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  /**
   * Downloads a file to a local path or a stream. `resume` continues after what the local file
   * already holds (REST); `offset` starts at a given byte.
   */
  get(remote: string, local: string | Writable, opts: GetOptions = {}): Promise<TransferSummary> {
    return this.task('get', () => this.download(remote, local, opts));
  }

  private async download(
    remote: string,
    local: string | Writable,
    opts: GetOptions,
  ): Promise<TransferSummary> {
    pathArg(remote);
    let offset = opts.offset ?? 0;
    if (opts.resume && typeof local === 'string') {
      offset = await fsStat(local).then(
        (s) => s.size,
        () => 0,
      );
    }
    const total = opts.onProgress || opts.resume ? await this.remoteSize(remote) : undefined;
    if (opts.resume && total !== undefined) {
      if (offset > total) {
        throw new FerryError(
          'ERR_USAGE',
          `Cannot resume: the local file has ${offset} bytes, more than the ${total} of ${remote}.`,
        );
      }
      if (offset === total) {
        return { bytes: 0, offset, reply: { code: 226, lines: ['Nothing to resume: already complete.'] } };
      }
    }
    let sink: Writable;
    let created = false;
    if (typeof local === 'string') {
      const existed = await fsStat(local).then(
        () => true,
        () => false,
      );
      created = !existed;
      // A large buffer lets the file stream batch TLS records into one writev instead of a write per 16 KiB.
      sink =
        offset > 0
          ? createWriteStream(local, { flags: 'r+', start: offset, highWaterMark: FILE_CHUNK })
          : createWriteStream(local, { highWaterMark: FILE_CHUNK });
    } else {
      sink = local;
    }
    const expected = total !== undefined ? total - offset : undefined;
    opts.onProgress?.({ bytes: 0, total: expected });
    try {
      const result = await this.transfer(
        `RETR ${remote}`,
        { direction: 'download', sink, end: opts.end },
        {
          signal: opts.signal,
          rest: offset,
          onBytes: (bytes) => opts.onProgress?.({ bytes, total: expected }),
        },
      );
      return { bytes: result.bytes, offset, reply: result.reply };
    } catch (err) {
      sink.destroy();
      if (
        created &&
        typeof local === 'string' &&
        !(err instanceof FerryError && err.code === 'ERR_ABORTED')
      ) {
        // Do not leave an empty file behind for a download that never started.
        const size = await fsStat(local).then(
          (s) => s.size,
          () => -1,
        );
        if (size === 0) await unlink(local).catch(() => {});
      }
      throw err;
    }
  }

  /**
   * Uploads a local file or a stream. `resume` continues after what the remote file already holds
   * (REST + STOR, or APPE when REST is refused); `append` appends (APPE).
   */
  put(local: string | Readable, remote: string, opts: PutOptions = {}): Promise<TransferSummary> {
    return this.task('put', () => this.upload(local, remote, opts));
  }

  private async upload(local: string | Readable, remote: string, opts: PutOptions): Promise<TransferSummary> {
    pathArg(remote);
    let offset = opts.offset ?? 0;
    if (opts.resume) offset = (await this.remoteSize(remote)) ?? 0;
    let total = opts.size;
    if (typeof local === 'string') {
      const s = await fsStat(local);
      if (!s.isFile()) throw new FerryError('ERR_USAGE', `Not a regular file: ${local}`);
      total = s.size;
      if (opts.resume && offset > s.size) {
        throw new FerryError(
          'ERR_USAGE',
          `Cannot resume: ${remote} has ${offset} bytes, more than the ${s.size} of the local file.`,
        );
      }
      if (opts.resume && offset === s.size) {
        return { bytes: 0, offset, reply: { code: 226, lines: ['Nothing to resume: already complete.'] } };
      }
    }
    const source =
      typeof local === 'string'
        ? createReadStream(local, { start: offset, highWaterMark: FILE_CHUNK })
        : local;
    const expected = total !== undefined ? Math.max(0, total - offset) : undefined;
    opts.onProgress?.({ bytes: 0, total: expected });
    const onBytes = (bytes: number): void => opts.onProgress?.({ bytes, total: expected });
    const body: TransferBody = { direction: 'upload', source };
    try {
      if (opts.append) {
        const r = await this.transfer(`APPE ${remote}`, body, { signal: opts.signal, onBytes });
        return { bytes: r.bytes, offset, reply: r.reply };
      }
      if (offset > 0) {
        const rest = await this.control.request(`REST ${offset}`);
        if (rest.code !== 350) {
          if (!opts.resume) throw new ReplyError(rest.code, replyText(rest), `REST ${offset}`);
          this.control.info('REST refused for the upload; appending instead (APPE).');
          const r = await this.transfer(`APPE ${remote}`, body, { signal: opts.signal, onBytes });
          return { bytes: r.bytes, offset, reply: r.reply };
        }
      }
      const r = await this.transfer(`STOR ${remote}`, body, { signal: opts.signal, onBytes });
      return { bytes: r.bytes, offset, reply: r.reply };
    } finally {
      if (typeof local === 'string') source.destroy();
    }
  }

  /** MKD; with `parents`, missing parents are created and an existing directory is fine. */
  mkdir(path: string, opts: { parents?: boolean } = {}): Promise<void> {
    return this.task('mkdir', () => this.makeDir(path, opts.parents ?? false));
  }

  private async makeDir(path: string, parents: boolean): Promise<void> {
    pathArg(path);
    const r = await this.control.request(`MKD ${path}`);
    if (isOk(r)) return;
    if (!parents) throw new ReplyError(r.code, replyText(r), `MKD ${path}`);
    if (await this.isDirectory(path)) return;
    const parent = remoteDirname(path);
    if (parent === '' || parent === '/' || parent === path)
      throw new ReplyError(r.code, replyText(r), `MKD ${path}`);
    await this.makeDir(parent, true);
    await this.command(`MKD ${path}`);
  }

  /** DELE a file; with `recursive`, a directory and everything in it. */
  remove(path: string, opts: { recursive?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    return this.task('remove', () => this.removePath(path, opts.recursive ?? false, opts.signal));
  }

  private async removePath(path: string, recursive: boolean, signal?: AbortSignal): Promise<void> {
    pathArg(path);
    const r = await this.control.request(`DELE ${path}`);
    if (isOk(r)) return;
    if (!recursive || !(await this.isDirectory(path)))
      throw new ReplyError(r.code, replyText(r), `DELE ${path}`);
    for (const e of await this.listDir(path, signal)) {
      if (signal?.aborted) throw new FerryError('ERR_ABORTED', 'Aborted.');
      const child = joinRemote(path, e.name);
      if (e.type === 'dir') await this.removePath(child, true, signal);
      else await this.command(`DELE ${child}`);
    }
    await this.command(`RMD ${path}`);
  }

  /** RMD (the directory must be empty). */
  removeDir(path: string): Promise<void> {
    return this.task('removeDir', async () => {
      await this.command(`RMD ${pathArg(path)}`);
    });
  }

  /** RNFR + RNTO. */
  rename(from: string, to: string): Promise<void> {
    return this.task('rename', async () => {
      await this.command(`RNFR ${pathArg(from)}`, (r) => r.code === 350);
      await this.command(`RNTO ${pathArg(to)}`);
    });
  }

  /** SITE CHMOD (mode as a number, e.g. 0o644, or octal text '644'). */
  chmod(path: string, mode: number | string): Promise<void> {
    const text = typeof mode === 'number' ? (mode & 0o7777).toString(8) : mode;
    if (!/^[0-7]{3,4}$/.test(text)) {
      return Promise.reject(new FerryError('ERR_USAGE', `Not an octal mode: ${String(mode)}`));
    }
    return this.task('chmod', async () => {
      await this.command(`SITE CHMOD ${text} ${pathArg(path)}`);
    });
  }

  /** Sets a file's modification time (MFMT, else MDTM with a time, as vsftpd does). False if unsupported. */
  setModified(path: string, date: Date): Promise<boolean> {
    return this.task('setModified', () => this.setTime(path, date));
  }

  private async setTime(path: string, date: Date): Promise<boolean> {
    pathArg(path);
    const verb = this.featureMap.has('MFMT') ? 'MFMT' : 'MDTM';
    const r = await this.control.request(`${verb} ${formatTimeVal(date)} ${path}`);
    return isOk(r);
  }

  /** The current directory (PWD). */
  pwd(): Promise<string> {
    return this.task('pwd', async () => {
      const r = await this.command('PWD', (x) => x.code === 257);
      return parsePwdReply(r) ?? '';
    });
  }

  /** Changes directory (CWD); relative paths in later calls start there. */
  cd(path: string): Promise<void> {
    return this.task('cd', async () => {
      await this.command(`CWD ${pathArg(path)}`);
      const r = await this.control.request('PWD');
      if (r.code === 257) this.home = parsePwdReply(r) ?? this.home;
    });
  }

  /**
   * Sends a raw command and returns its final reply (any code: the caller judges it). Commands that
   * change the session's security or need a data connection have their own methods and are refused.
   */
  send(line: string): Promise<Reply> {
    const verb = (line.trim().split(/\s+/)[0] ?? '').toUpperCase();
    if (verb === 'AUTH' && this.security === 'implicit') {
      return Promise.reject(
        new FerryError(
          'ERR_USAGE',
          'AUTH is never sent on an implicit FTPS session: TLS is already established (MS-FTPS 3.1.5.6).',
        ),
      );
    }
    if (verb === 'CCC' && this.security === 'implicit') {
      return Promise.reject(
        new FerryError(
          'ERR_USAGE',
          'CCC is not allowed on an implicit FTPS session: servers always refuse it (MS-FTPS 3.1.5.2).',
        ),
      );
    }
    const own: Record<string, string> = {
      AUTH: 'connect() negotiates TLS',
      CCC: 'use ccc()',
      REIN: 'use reinitialize()',
      PBSZ: 'data protection is set at connect (dataProtection option)',
      PROT: 'data protection is set at connect (dataProtection option)',
      USER: 'log in with connect()',
      PASS: 'log in with connect()',
      QUIT: 'use close()',
      ABOR: 'abort a transfer through its AbortSignal',
    };
    for (const v of ['RETR', 'STOR', 'STOU', 'APPE', 'LIST', 'NLST', 'MLSD'])
      own[v] = 'it needs a data connection: use get(), put() or list()';
    const why = own[verb];
    if (why !== undefined)
      return Promise.reject(new FerryError('ERR_USAGE', `${verb} cannot be sent raw: ${why}.`));
    return this.task('send', () => this.control.request(line));
  }

  /** CCC (explicit FTPS): the control connection continues in clear; data protection is unchanged. */
  ccc(): Promise<void> {
    if (this.security === 'implicit') {
      return Promise.reject(
        new FerryError(
          'ERR_USAGE',
          'CCC is not allowed on an implicit FTPS session: servers always refuse it (MS-FTPS 3.1.5.2).',
        ),
      );
    }
    return this.task('ccc', async () => {
      if (!this.control.secure) throw new FerryError('ERR_USAGE', 'The control connection is not encrypted.');
      await this.command('CCC');
      await this.control.stopTls();
      this.control.info('Control connection in clear (CCC).');
    });
  }

  /**
   * REIN: the server logs the user out and ends TLS on the control connection; the client then
   * negotiates TLS again on the same TCP connection (implicit FTPS: TLS first, then the greeting,
   * MS-FTPS 3.1.5.3; explicit: AUTH again) and logs in again with the same credentials.
   */
  reinitialize(): Promise<void> {
    return this.task('reinitialize', async () => {
      const c = this.control;
      await this.command('REIN');
      if (c.secure) await c.stopTls();
      this.prot = undefined;
      this.featureMap = new Map();
      if (this.security === 'implicit') {
        // MS-FTPS 3.1.5.3: negotiate implicit FTPS again, then expect the greeting.
        await c.startTls();
        await this.greetAndLogin();
      } else {
        // The REIN reply stands for the greeting; explicit FTPS starts over with AUTH.
        await this.secureAndLogin();
      }
    });
  }

  /** QUIT and close. Idempotent; never throws. */
  async close(): Promise<void> {
    await this.control.close();
  }

  /** Closes at once (no QUIT). */
  destroy(): void {
    this.control.destroy();
  }
}
