import type { Readable, Writable } from 'node:stream';
import type * as tls from 'node:tls';
import { Code } from '../protocol/codes.js';
import { isPositiveCompletion, replyLine, type Reply } from '../protocol/reply.js';
import { FerryError } from '../errors.js';
import { formatTimeVal, parseTimeVal } from '../protocol/listing.js';
import { formatChmodMode, parseChmodMode } from '../protocol/mode.js';
import { clearControl, openSession, reinitialize } from './connect.js';
import { makeDir, removePath } from './directories.js';
import { CHECKSUM_OPTION_KEYS, remoteChecksum, type Checksum, type ChecksumOptions } from './checksum.js';
import {
  download,
  GET_OPTION_KEYS,
  PUT_OPTION_KEYS,
  upload,
  type GetOptions,
  type PutOptions,
  type TransferSummary,
} from './files.js';
import { listDir, listingLimits, listRaw, listsDotFiles, statPath, type RemoteEntry } from './listing.js';
import { keysOf, refuseUnknownKeys } from './option-keys.js';
import { resolveClientOptions, validate, type ClientOptions } from './options.js';
import { command, parsePwdReply, pathArg, type ClientSession } from './session.js';
import { reservedCommand, type ReservedKind } from './raw-commands.js';
import type { CredentialSources, Security } from './url.js';

/** How many reply timeouts (replyTimeoutMs) RNTO's reply may take: see rename(). */
export const RENAME_REPLY_FACTOR = 10;

export type { ClientOptions } from './options.js';
export type { Progress, TransferOptions, GetOptions, PutOptions, TransferSummary } from './files.js';
export { parseListText, parseMlsdText, type RemoteEntry } from './listing.js';
export { parsePwdReply } from './session.js';
export type { Checksum } from './checksum.js';

/** What send() says about a reserved command: the method or option to use instead. */
const LIBRARY_ADVICE: Readonly<Record<ReservedKind, string>> = {
  auth: 'connect() negotiates TLS',
  protection: 'data protection is set at connect (dataProtection option)',
  login: 'log in with connect()',
  quit: 'use close()',
  abort: 'abort a transfer through its AbortSignal',
  reinitialize: 'use reinitialize()',
  'clear-control': 'use ccc()',
  download: 'it needs a data connection: use get()',
  upload: 'it needs a data connection: use put()',
  listing: 'it needs a data connection: use list() or listRaw()',
  representation: 'the client transfers in binary (TYPE I, MODE S, STRU F), which get() and put() rely on',
};

/**
 * list(): `all` lists dot-files too from servers without MLSD (LIST -a); `directory` lists only a
 * directory (a file's path fails as the server refuses it, instead of giving the file's entry, or
 * with ERR_NOT_DIRECTORY where the server lists the file rather than refuse it); `onUnreadLine` is
 * called with each line of the listing the client cannot read (its entry is missing from the
 * result: a caller deciding what the directory lacks must not count on the result alone).
 */
export type ListOptions = {
  signal?: AbortSignal;
  all?: boolean;
  directory?: boolean;
  onUnreadLine?: (line: string) => void;
};
/** remove(): `recursive` removes a directory and what it holds. */
export type RemoveOptions = { recursive?: boolean; signal?: AbortSignal };
/** mkdir(): `parents` makes the missing parents too, as mkdir -p. */
export type MkdirOptions = { parents?: boolean };
const LIST_KEYS = keysOf<ListOptions>({ signal: true, all: true, directory: true, onUnreadLine: true });
const SIGNAL_KEYS = keysOf<{ signal?: AbortSignal }>({ signal: true });
const MKDIR_KEYS = keysOf<MkdirOptions>({ parents: true });
const REMOVE_KEYS = keysOf<RemoveOptions>({ recursive: true, signal: true });

/** Commands that are wrong on an implicit FTPS session whatever the API. */
const IMPLICIT_AUTH =
  'AUTH is never sent on an implicit FTPS session: TLS is already established (MS-FTPS 3.1.5.6).';
const IMPLICIT_CCC =
  'CCC is not allowed on an implicit FTPS session: servers always refuse it (MS-FTPS 3.1.5.2).';

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
 *
 * The protocol work lives in connect.ts (TLS, login, CCC, REIN), listing.ts (listings, stat),
 * files.ts (get, put), directories.ts (mkdir -p, rm -r) and session.ts (commands, data commands).
 */
export class FerryClient {
  private busy: string | undefined;
  /** close() or destroy() was called: a call running then fails with ERR_CLOSED, whatever broke. */
  private closedByCaller = false;
  private readonly s: ClientSession;

  private constructor(session: ClientSession) {
    this.s = session;
  }

  /**
   * Connects and logs in. A URL gives scheme, host, port and user (its path is ignored); the
   * password comes from the URL, FERRY_PASSWORD or ~/.netrc. `options` add to or override it.
   */
  static async connect(
    target: string | ClientOptions,
    options: Partial<ClientOptions> & { credentials?: CredentialSources } = {},
  ): Promise<FerryClient> {
    const o = await resolveClientOptions(target, options);
    validate(o);
    return new FerryClient(await openSession(o));
  }

  /** FEAT: feature name (uppercase) → parameters. */
  get features(): ReadonlyMap<string, string> {
    return this.s.featureMap;
  }

  /** The session's security: how the control connection was secured at login. */
  get mode(): Security {
    return this.s.security;
  }

  /** True while the control connection is encrypted (false after CCC). */
  get controlProtected(): boolean {
    return this.s.control.secure;
  }

  /** Data protection in effect: 'P' (TLS) or 'C' (clear). */
  get dataProtection(): 'P' | 'C' {
    return this.s.prot ?? 'C';
  }

  /** The login directory (from PWD), if the server told it. */
  get homeDirectory(): string | undefined {
    return this.s.home;
  }

  /** Why the connection closed, or undefined while it is open. */
  get closedReason(): FerryError | undefined {
    return this.s.control.failure;
  }

  get closed(): boolean {
    return this.s.control.failure !== undefined;
  }

  /** The server certificate's TLS details (undefined without TLS). */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.s.control.tlsSocket;
  }

  /**
   * Runs one operation; a second one while it runs is a usage error (one request at a time), and
   * so is a key of its `options` that is not in `known`.
   */
  private async task<T>(
    name: string,
    fn: () => Promise<T>,
    options?: [given: object, known: readonly string[]],
  ): Promise<T> {
    if (options) refuseUnknownKeys(options[0], options[1], `${name}() options`);
    if (this.busy !== undefined) {
      throw new FerryError(
        'ERR_BUSY',
        `${name}: this connection is busy with ${this.busy}; await it first, or use another FerryClient for parallel work.`,
      );
    }
    const failure = this.s.control.failure;
    if (failure) throw failure;
    if (this.closedByCaller) throw closedDuring(name);
    this.busy = name;
    try {
      return await fn();
    } catch (err) {
      // What broke when the connection went (a reply taken, the data connection's TLS) is no
      // failure of the network or the server: the caller closed it.
      if (this.closedByCaller) throw closedDuring(name, err);
      throw err;
    } finally {
      this.busy = undefined;
    }
  }

  /**
   * Lists a directory ('' = current). MLSD when offered, else LIST (parsed; Unix and MS-DOS forms);
   * `all` asks `LIST -a` for dot-files (plain LIST where the server refuses it). A file's path gives
   * that file's one entry (MLST, else LIST of the path), unless `directory` is set.
   */
  list(dir = '', opts: ListOptions = {}): Promise<RemoteEntry[]> {
    return this.task('list', () => listDir(this.s, dir, opts), [opts, LIST_KEYS]);
  }

  /**
   * Whether `list(dir, { all: true })` shows dot-files here: true with MLSD or once `LIST -a`
   * worked, false once the server refused `-a` (plain LIST: Unix servers leave dot-files out),
   * undefined until a listing told.
   */
  get listsDotFiles(): boolean | undefined {
    return listsDotFiles(this.s);
  }

  /** The most entries a listing may have, and a mirror's walk in all (maxListingEntries). */
  get maxListingEntries(): number {
    return listingLimits(this.s).maxEntries;
  }

  /** The unparsed text of a listing command (LIST, MLSD or NLST) for a directory ('' = current). */
  listRaw(
    dir = '',
    command: 'LIST' | 'MLSD' | 'NLST' = 'LIST',
    opts: { signal?: AbortSignal } = {},
  ): Promise<string> {
    return this.task('listRaw', () => listRaw(this.s, dir, command, opts), [opts, SIGNAL_KEYS]);
  }

  /**
   * Type, size and modification time of a path (MLST when offered, else SIZE/MDTM/CWD). A size the
   * server does not tell is null (a directory without MLST: SIZE refuses directories).
   */
  stat(path: string): Promise<RemoteEntry> {
    return this.task('stat', () => statPath(this.s, path));
  }

  /**
   * Downloads a file to a local path or a stream. `resume` continues after what the local file
   * already holds (REST); `offset` starts at a given byte. A stream that fails or is closed before
   * the end (watched from the call on) aborts the transfer: LocalError (ERR_LOCAL).
   */
  get(remote: string, local: string | Writable, opts: GetOptions = {}): Promise<TransferSummary> {
    return this.task('get', () => download(this.s, remote, local, opts), [opts, GET_OPTION_KEYS]);
  }

  /**
   * Uploads a local file or a stream. `resume` continues after what the remote file already holds
   * (APPE at its size, then SIZE must show the whole file; a stream's first bytes, as many, are
   * skipped); `offset` keeps the remote file's first bytes and sends the source's from there (a
   * stream's first bytes, as many, are skipped too); `append` appends (APPE). A stream that fails
   * or is closed before its end (watched from the call on) aborts the transfer: LocalError.
   */
  put(local: string | Readable, remote: string, opts: PutOptions = {}): Promise<TransferSummary> {
    return this.task('put', () => upload(this.s, local, remote, opts), [opts, PUT_OPTION_KEYS]);
  }

  /** MKD; with `parents`, missing parents are created and an existing directory is fine. */
  mkdir(path: string, opts: MkdirOptions = {}): Promise<void> {
    return this.task('mkdir', () => makeDir(this.s, path, opts.parents ?? false), [opts, MKDIR_KEYS]);
  }

  /** DELE a file; with `recursive`, a directory and everything in it. */
  remove(path: string, opts: RemoveOptions = {}): Promise<void> {
    return this.task('remove', () => removePath(this.s, path, opts.recursive ?? false, opts.signal), [
      opts,
      REMOVE_KEYS,
    ]);
  }

  /** RMD (the directory must be empty). */
  removeDir(path: string): Promise<void> {
    return this.task('removeDir', async () => {
      await command(this.s, `RMD ${pathArg(path)}`);
    });
  }

  /**
   * RNFR + RNTO. RNTO's reply is waited for RENAME_REPLY_FACTOR reply timeouts: a server on object
   * storage renames a directory object by object (Ferry on S3: a 1,000-object directory in 15-60 s).
   */
  rename(from: string, to: string): Promise<void> {
    return this.task('rename', async () => {
      await command(this.s, `RNFR ${pathArg(from)}`, (r) => r.code === Code.PendingFurtherInfo);
      const ms = Math.min(RENAME_REPLY_FACTOR * this.s.control.replyTimeoutMs, 2 ** 31 - 1);
      await command(this.s, `RNTO ${pathArg(to)}`, undefined, ms);
    });
  }

  /**
   * SITE CHMOD (mode as a number, e.g. 0o644, or octal text of 1 to 4 digits, '644' or '44' as
   * chmod(1) takes them). It is sent with at least 3 digits (0o40 as `040`), as servers read it.
   */
  chmod(path: string, mode: number | string): Promise<void> {
    const bits =
      typeof mode === 'number'
        ? Number.isInteger(mode) && mode >= 0
          ? mode & 0o7777
          : undefined
        : parseChmodMode(mode);
    if (bits === undefined) {
      return Promise.reject(new FerryError('ERR_USAGE', `Not an octal mode: ${String(mode)}`));
    }
    const text = formatChmodMode(bits);
    return this.task('chmod', async () => {
      await command(this.s, `SITE CHMOD ${text} ${pathArg(path)}`);
    });
  }

  /** A file's modification time to the second (MDTM); undefined when the server does not tell it. */
  modified(path: string): Promise<Date | undefined> {
    return this.task('modified', async () => {
      pathArg(path);
      const r = await this.s.control.request(`MDTM ${path}`);
      return r.code === Code.FileStatus ? parseTimeVal(replyLine(r)) : undefined;
    });
  }

  /** Sets a file's modification time (MFMT, else MDTM with a time, as vsftpd does). False if unsupported. */
  setModified(path: string, date: Date): Promise<boolean> {
    return this.task('setModified', async () => {
      pathArg(path);
      const verb = this.s.featureMap.has('MFMT') ? 'MFMT' : 'MDTM';
      const r = await this.s.control.request(`${verb} ${formatTimeVal(date)} ${path}`);
      return isPositiveCompletion(r);
    });
  }

  /**
   * The server's checksum of a file: HASH (the strongest algorithm offered), else XSHA256, XSHA1,
   * XMD5 or MD5. Undefined when the server offers none of them (or no reply has a checksum to read);
   * a refusal (`550` no such file, `450` busy) rejects with a ReplyError and its code. The reply may
   * take as long as the file takes to read at 10 MB/s beyond the reply timeout (the size asked with
   * SIZE unless given).
   */
  checksum(path: string, o: ChecksumOptions = {}): Promise<Checksum | undefined> {
    return this.task('checksum', () => remoteChecksum(this.s, path, o), [o, CHECKSUM_OPTION_KEYS]);
  }

  /** The current directory (PWD). */
  pwd(): Promise<string> {
    return this.task('pwd', async () => {
      const r = await command(this.s, 'PWD', (x) => x.code === Code.PathCreated);
      return parsePwdReply(r) ?? '';
    });
  }

  /** Changes directory (CWD); relative paths in later calls start there. */
  cd(path: string): Promise<void> {
    return this.task('cd', async () => {
      await command(this.s, `CWD ${pathArg(path)}`);
      const r = await this.s.control.request('PWD');
      if (r.code === Code.PathCreated) this.s.home = parsePwdReply(r) ?? this.s.home;
    });
  }

  /**
   * Sends a raw command and returns its final reply (any code: the caller judges it). Commands that
   * change the session's security or need a data connection have their own methods and are refused
   * (see raw-commands.ts).
   */
  send(line: string): Promise<Reply> {
    const reserved = reservedCommand(line);
    if (reserved) {
      const implicit = this.s.security === 'implicit';
      const why =
        implicit && reserved.kind === 'auth'
          ? IMPLICIT_AUTH
          : implicit && reserved.kind === 'clear-control'
            ? IMPLICIT_CCC
            : `${reserved.verb} cannot be sent raw: ${LIBRARY_ADVICE[reserved.kind]}.`;
      return Promise.reject(new FerryError('ERR_USAGE', why));
    }
    return this.task('send', () => this.s.control.request(line));
  }

  /**
   * CCC (explicit FTPS): the control connection continues in clear; data protection is unchanged.
   * Returns the server's reply to CCC.
   */
  ccc(): Promise<Reply> {
    if (this.s.security === 'implicit') {
      return Promise.reject(new FerryError('ERR_USAGE', IMPLICIT_CCC));
    }
    return this.task('ccc', () => clearControl(this.s));
  }

  /**
   * REIN: the server logs the user out and ends TLS on the control connection; the client then
   * negotiates TLS again on the same TCP connection (implicit FTPS: TLS first, then the greeting,
   * MS-FTPS 3.1.5.3; explicit: AUTH again) and logs in again with the same credentials. Returns the
   * server's reply to REIN.
   */
  reinitialize(): Promise<Reply> {
    return this.task('reinitialize', () => reinitialize(this.s));
  }

  /**
   * QUIT and close. Idempotent; never throws. A call still running rejects with ERR_CLOSED (no QUIT
   * then: its reply could be taken for the call's).
   */
  async close(): Promise<void> {
    this.closedByCaller = true;
    await (this.busy !== undefined ? this.s.control.interrupt() : this.s.control.close());
  }

  /** Closes at once (no QUIT); a call still running rejects with ERR_CLOSED. */
  destroy(): void {
    this.closedByCaller = true;
    this.s.control.destroy();
  }
}

function closedDuring(name: string, cause?: unknown): FerryError {
  if (cause instanceof FerryError && cause.code === 'ERR_CLOSED') return cause;
  return new FerryError('ERR_CLOSED', `${name}: the connection was closed (close() or destroy()).`, {
    cause,
  });
}
