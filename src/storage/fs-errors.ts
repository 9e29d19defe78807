import { FerryError, StorageError, type StorageErrorKind } from '../errors.js';

/** errno → kind. Anything unlisted is reported as transient with the original kept as `cause`. */
const kindByCode: Readonly<Record<string, StorageErrorKind>> = {
  ENOENT: 'not-found',
  EEXIST: 'exists',
  ENOTEMPTY: 'not-empty',
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
  EROFS: 'permission-denied',
  ELOOP: 'permission-denied',
  ENOSPC: 'quota-exceeded',
  EDQUOT: 'quota-exceeded',
  EFBIG: 'quota-exceeded',
  ENAMETOOLONG: 'name-not-allowed',
  EILSEQ: 'name-not-allowed',
  EINVAL: 'name-not-allowed',
  EISDIR: 'is-directory',
  ENOTDIR: 'not-directory',
  EXDEV: 'unsupported',
  ENOTSUP: 'unsupported',
  EOPNOTSUPP: 'unsupported',
};

const text: Readonly<Record<StorageErrorKind, string>> = {
  'not-found': 'no such file or directory',
  exists: 'already exists',
  'not-empty': 'directory not empty',
  'permission-denied': 'permission denied',
  'quota-exceeded': 'insufficient storage space',
  'mount-point': 'a virtual folder is mounted there',
  'cross-folder': 'not in the same virtual folder',
  'name-not-allowed': 'name not allowed',
  'is-directory': 'is a directory',
  'not-directory': 'not a directory',
  'beyond-end': 'restart position beyond the end of the file',
  'into-itself': 'cannot move a directory into itself',
  unsupported: 'not supported',
  transient: 'temporarily unavailable',
  unavailable: 'storage unavailable',
  limit: 'limit exceeded',
  refused: 'refused by the storage',
};

/** What a client is told when the server cannot open a file or directory for lack of descriptors. */
export const OUT_OF_FILES = 'the server is out of open files';

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

/** A StorageError naming the virtual path only (host paths stay in `cause`, for logs). */
export function storageError(kind: StorageErrorKind, op: string, p: string, cause?: unknown): StorageError {
  return new StorageError(kind, `${op} ${p}: ${text[kind]}`, cause === undefined ? undefined : { cause });
}

/**
 * An upload admitted onto no file, where replacing one needs `overwrite` (a drop box), found at its
 * commit the file another upload made meanwhile: refused by the rule (551 after the 150).
 */
export function createdMeanwhile(p: string): StorageError {
  return new StorageError('permission-denied', `write ${p}: another upload created the file meanwhile`, {
    permission: 'overwrite',
  });
}

export function abortedError(signal: AbortSignal): FerryError {
  return new FerryError('ERR_ABORTED', 'Storage operation aborted.', { cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError(signal);
}

/** Converts a host fs error (whose message names host paths) into a FerryError safe to show. */
export function mapFsError(err: unknown, op: string, p: string): FerryError {
  if (err instanceof FerryError) return err;
  const code = errnoCode(err);
  // The process (EMFILE) or the system (ENFILE) has no descriptor left: the server's state, not the
  // file's; 451 (RFC 959: local error in processing) saying so, and the server logs it (descriptors.ts).
  if (code === 'EMFILE' || code === 'ENFILE')
    return new StorageError('unavailable', `${op} ${p}: ${text.unavailable}`, {
      cause: err,
      detail: OUT_OF_FILES,
    });
  // Said, not only refused: a name past the file system's limit, or a path past the host's PATH_MAX
  // (the root's own path counts too), is not a name the server forbids.
  if (code === 'ENAMETOOLONG') {
    const detail = tooLong();
    return new StorageError('name-not-allowed', `${op} ${p}: ${detail}`, { cause: err, detail });
  }
  const kind = code === undefined ? undefined : kindByCode[code];
  return storageError(kind ?? 'transient', op, p, err);
}

/**
 * What ENAMETOOLONG means for a virtual path within the limits virtual-path.ts checks: the host
 * path (the root's own path before it) passes the host's PATH_MAX.
 */
function tooLong(): string {
  return "path too long for the server's file system";
}
