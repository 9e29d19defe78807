import { Code, type ReplyCode } from './protocol/codes.js';
import { reply } from './protocol/reply.js';
import type { Refusal } from './protocol/failure-codes.js';

/**
 * Every error Ferry raises on purpose carries a stable string code. The ONE table that maps error
 * kinds to FTP replies lives here (replyForError), so handlers never pick codes for failures.
 */
export type FerryErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_EXISTS'
  | 'ERR_NOT_EMPTY'
  | 'ERR_PERMISSION_DENIED'
  | 'ERR_QUOTA_EXCEEDED'
  | 'ERR_MOUNT_POINT'
  | 'ERR_CROSS_FOLDER'
  | 'ERR_NAME_NOT_ALLOWED'
  | 'ERR_UNSUPPORTED'
  | 'ERR_TRANSIENT'
  | 'ERR_UNAVAILABLE'
  | 'ERR_LIMIT'
  | 'ERR_IS_DIRECTORY'
  | 'ERR_NOT_DIRECTORY'
  | 'ERR_BEYOND_END'
  | 'ERR_INTO_ITSELF'
  | 'ERR_INVALID_OPTION'
  | 'ERR_DATA_CONNECTION'
  | 'ERR_PASSIVE_LIMIT'
  | 'ERR_TLS'
  | 'ERR_ABORTED'
  | 'ERR_TIMEOUT'
  /** The client could not connect: refused, unreachable, a name that does not resolve. */
  | 'ERR_CONNECT'
  | 'ERR_CLOSED'
  /** The server could not listen: the address and port are taken by another program or server. */
  | 'ERR_ADDRESS_IN_USE'
  /** The server could not listen: no interface of this machine has the address (EADDRNOTAVAIL). */
  | 'ERR_ADDRESS_NOT_AVAILABLE'
  /** The server could not listen: not allowed to (EACCES; a port below 1024 without the right). */
  | 'ERR_ADDRESS_DENIED'
  | 'ERR_PROTOCOL'
  | 'ERR_REPLY'
  | 'ERR_AUTH'
  | 'ERR_BUSY'
  /** The client's local side failed: a local file (ENOENT, EISDIR, ENOSPC) or the caller's stream. */
  | 'ERR_LOCAL'
  /** The remote file does not fit the client's operation (put -c onto a larger remote file). */
  | 'ERR_REMOTE'
  | 'ERR_USAGE';

export class FerryError extends Error {
  readonly code: FerryErrorCode;
  constructor(code: FerryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FerryError';
    this.code = code;
  }
}

/** Storage failures; `kind` decides the reply code. Messages must not contain host paths. */
export type StorageErrorKind =
  | 'not-found'
  | 'exists'
  | 'not-empty'
  | 'permission-denied'
  | 'quota-exceeded'
  /** A virtual folder's mount point, or a directory above one: never removed, renamed or replaced. */
  | 'mount-point'
  /** A rename from one virtual folder (or the home) into another. */
  | 'cross-folder'
  | 'name-not-allowed'
  | 'is-directory'
  | 'not-directory'
  /** An upload restarted (REST) past the end of the file: it would leave a gap of zeros (554). */
  | 'beyond-end'
  /** A directory renamed to a place inside itself (rename(2)'s EINVAL). */
  | 'into-itself'
  | 'unsupported'
  | 'transient'
  /** The storage service failed or stayed overloaded after retries (451). */
  | 'unavailable'
  /** An operation bounded by configuration went above its bound (553, the message says which). */
  | 'limit'
  /** The storage service refuses the request as it is, for good (553 naming its error). */
  | 'refused';

const storageCodes: Record<StorageErrorKind, FerryErrorCode> = {
  'not-found': 'ERR_NOT_FOUND',
  exists: 'ERR_EXISTS',
  'not-empty': 'ERR_NOT_EMPTY',
  'permission-denied': 'ERR_PERMISSION_DENIED',
  'quota-exceeded': 'ERR_QUOTA_EXCEEDED',
  'mount-point': 'ERR_MOUNT_POINT',
  'cross-folder': 'ERR_CROSS_FOLDER',
  'name-not-allowed': 'ERR_NAME_NOT_ALLOWED',
  'is-directory': 'ERR_IS_DIRECTORY',
  'not-directory': 'ERR_NOT_DIRECTORY',
  'beyond-end': 'ERR_BEYOND_END',
  'into-itself': 'ERR_INTO_ITSELF',
  unsupported: 'ERR_UNSUPPORTED',
  transient: 'ERR_TRANSIENT',
  unavailable: 'ERR_UNAVAILABLE',
  limit: 'ERR_LIMIT',
  refused: 'ERR_LIMIT',
};

export class StorageError extends FerryError {
  readonly kind: StorageErrorKind;
  /** A permission rule refused (at a link's target): the permission missing, which the reply names. */
  readonly permission?: string;
  /** Why, for the client: the reply adds it to the kind's text (no host path in it). */
  readonly detail?: string;
  constructor(
    kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown; permission?: string; detail?: string },
  ) {
    super(storageCodes[kind], message, options);
    this.name = 'StorageError';
    this.kind = kind;
    if (options?.permission !== undefined) this.permission = options.permission;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

/**
 * A user's quota refused an upload. Its message is written for the client (which limit, and its
 * value): a full disk's 552 says `Insufficient storage space.`, and the two need telling apart.
 */
export class QuotaError extends FerryError {
  constructor(message: string) {
    super('ERR_QUOTA_EXCEEDED', message);
    this.name = 'QuotaError';
  }
}

/**
 * A data connection that could not be opened. `detail` says why, for the reply (`425 Can't open
 * data connection: connection refused.`, as ProFTPD names it); `errno` is the system's name of it
 * (ECONNREFUSED, ETIMEDOUT…) for the log.
 */
export class DataConnectionError extends FerryError {
  readonly detail: string;
  readonly errno: string | undefined;
  constructor(detail: string, options?: { errno?: string; cause?: unknown }) {
    super('ERR_DATA_CONNECTION', `Can't open data connection: ${detail}.`, options);
    this.name = 'DataConnectionError';
    this.detail = detail;
    this.errno = options?.errno;
  }
}

/** A reply from a remote server that the client did not expect (carries the code and text). */
export class ReplyError extends FerryError {
  readonly replyCode: ReplyCode;
  readonly replyText: string;
  constructor(replyCode: ReplyCode, replyText: string, command?: string) {
    super('ERR_REPLY', `${command ? `${command}: ` : ''}${replyCode} ${replyText}`);
    this.name = 'ReplyError';
    this.replyCode = replyCode;
    this.replyText = replyText;
  }
}

/** `OWN` uses the error's message: for errors whose messages are written for the client. */
const OWN = Symbol('own message');
const replyTable: Partial<Record<FerryErrorCode, [ReplyCode, string | typeof OWN]>> = {
  ERR_NOT_FOUND: [Code.FileUnavailable, 'No such file or directory.'],
  ERR_EXISTS: [Code.FileUnavailable, 'File exists.'],
  ERR_NOT_EMPTY: [Code.FileUnavailable, 'Directory not empty.'],
  ERR_PERMISSION_DENIED: [Code.FileUnavailable, 'Permission denied.'],
  ERR_QUOTA_EXCEEDED: [Code.ExceededStorage, 'Insufficient storage space.'],
  ERR_NAME_NOT_ALLOWED: [Code.NameNotAllowed, 'File name not allowed.'],
  ERR_MOUNT_POINT: [Code.FileUnavailable, OWN], // says which folder, by virtual path
  ERR_CROSS_FOLDER: [Code.NameNotAllowed, OWN],
  ERR_IS_DIRECTORY: [Code.FileUnavailable, 'Is a directory.'],
  ERR_NOT_DIRECTORY: [Code.FileUnavailable, 'Not a directory.'],
  ERR_BEYOND_END: [Code.InvalidRestParameter, 'Restart position beyond the end of the file.'],
  ERR_INTO_ITSELF: [Code.FileUnavailable, 'Cannot move a directory into itself.'],
  ERR_UNSUPPORTED: [Code.NotImplemented, 'Not supported by this storage.'],
  ERR_TRANSIENT: [Code.FileUnavailableBusy, 'Temporarily unavailable, try again.'],
  ERR_UNAVAILABLE: [Code.LocalError, 'Storage temporarily unavailable, try again later.'],
  ERR_LIMIT: [Code.NameNotAllowed, OWN], // written for the client: which bound, and its value
  ERR_DATA_CONNECTION: [Code.CantOpenData, "Can't open data connection."],
  ERR_PASSIVE_LIMIT: [Code.CantOpenData, OWN], // says which limit, and what to do
  ERR_TLS: [Code.TlsNegotiationFailed, OWN], // e.g. why a data connection's TLS was refused
  ERR_ABORTED: [Code.TransferAborted, 'Connection closed; transfer aborted.'],
  ERR_TIMEOUT: [Code.TransferAborted, 'Transfer timed out.'],
};

const DISK_FULL = "No space left on the server's disk.";

/** A full disk (ENOSPC, also out of inodes) anywhere in `err`'s causes, as the reply names it. */
function diskFull(err: Error): boolean {
  for (let c: unknown = err; c instanceof Error; c = c.cause)
    if ((c as { code?: unknown }).code === 'ENOSPC') return true;
  return false;
}

/**
 * The one place an error becomes a reply (the control connection then fits its code to the command:
 * protocol/failure-codes.ts). Unknown errors give 451 and `unknown: true` so the caller logs them;
 * their message never reaches the client.
 */
export function replyForError(err: unknown): { reply: Refusal; unknown: boolean } {
  if (err instanceof StorageError && err.permission !== undefined) {
    // As the policy's own refusal says it (policy.ts): the same rule, met through a link.
    return { reply: reply(Code.FileUnavailable, `Permission denied: ${err.permission}`), unknown: false };
  }
  if (err instanceof FerryError) {
    const entry = replyTable[err.code];
    if (entry) {
      const [code, own] = entry;
      const text = own === OWN || err instanceof QuotaError ? err.message : own;
      const detailed = (t: string): string =>
        (err instanceof StorageError || err instanceof DataConnectionError) && err.detail !== undefined
          ? `${t.replace(/\.$/, '')}: ${err.detail}.`
          : t;
      // Where no 552 is allowed (MKD), the text says whether the disk or a quota is full.
      const refitted =
        code === Code.ExceededStorage && diskFull(err) ? { refitted: [detailed(DISK_FULL)] as const } : {};
      return { reply: { ...reply(code, detailed(text)), ...refitted }, unknown: false };
    }
  }
  return {
    reply: reply(Code.LocalError, 'Requested action aborted: local error in processing.'),
    unknown: true,
  };
}
