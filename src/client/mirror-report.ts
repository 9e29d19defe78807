/**
 * What a mirror tells (mirror.ts): its events as it goes, its result at the end, and the failure of
 * an entry of another type in the way.
 */
import { FerryError } from '../errors.js';
import type { Item } from './mirror-trees.js';
import type { Reconnect } from './pool.js';

export type MirrorEvent =
  | { readonly kind: 'mkdir'; readonly path: string }
  /** The comparison is done: `files` are to be transferred (or would be, in a dry run); path ''. */
  | { readonly kind: 'planned'; readonly path: ''; readonly files: number }
  /** `size`: undefined when the server did not report it. */
  | { readonly kind: 'start'; readonly path: string; readonly size: number | undefined }
  /**
   * The file's bytes so far, of `total`: a retried download that continues (REST) counts on from
   * what the failed tries wrote; with `continue`, what the destination held is not counted.
   */
  | {
      readonly kind: 'progress';
      readonly path: string;
      readonly bytes: number;
      readonly total: number | undefined;
    }
  | { readonly kind: 'done'; readonly path: string; readonly bytes: number }
  | { readonly kind: 'skip'; readonly path: string; readonly reason: string }
  /** The destination already has the file (same size and time): counted as skipped. */
  | { readonly kind: 'unchanged'; readonly path: string }
  | { readonly kind: 'delete'; readonly path: string }
  /** Something worth telling that is not a failure (the server refused SITE CHMOD). */
  | { readonly kind: 'note'; readonly path: string; readonly message: string }
  /**
   * A file that could not be transferred, a remote directory the server would not list (nothing
   * under it is transferred or deleted), a type conflict (`conflict`) or a directory that could
   * not be made (`directory`); the others go on, then the mirror fails with the first.
   */
  | {
      readonly kind: 'failed';
      readonly path: string;
      readonly error: unknown;
      /** A file's bytes that moved before it failed (a continued one found bad after it was sent). */
      readonly bytes?: number;
      /**
       * The destination has another type of entry there (a file where the source has a directory,
       * a directory or a link where it has a file…) and `delete` is not set: left alone, with
       * everything under it.
       */
      readonly conflict?: true;
      /** A directory the destination refused to make (MKD refused, a local mkdir failing). */
      readonly directory?: true;
    }
  /**
   * The connection was lost and could not be opened again (`retries` spent, or none): the `files`
   * still queued were never tried (not `failed` events of their own); the mirror then fails. Path ''.
   */
  | { readonly kind: 'lost'; readonly path: ''; readonly files: number; readonly error: unknown }
  /**
   * A file failed transiently and is tried again: retry `retry` of `retries`; with `listing`, the
   * listing of the remote directory `path` ('' the mirror's root).
   */
  | {
      readonly kind: 'retry';
      readonly path: string;
      readonly listing?: true;
      readonly retry: number;
      readonly retries: number;
      readonly error: unknown;
    }
  /** A connection was lost: a new one is opened after `pauseMs` (attempt `attempt` of `attempts`); path ''. */
  | ({ readonly kind: 'reconnect'; readonly path: '' } & Reconnect);

export interface MirrorResult {
  readonly transferred: number;
  readonly bytes: number;
  /**
   * Files not transferred: unchanged ones, symbolic links (a skipped directory counts once,
   * whatever is under it), dot-files kept from deletion, remote names that cannot be mirrored (a
   * `/` or a line break in them, listed twice, deeper than MAX_REMOTE_DEPTH levels).
   */
  readonly skipped: number;
  /** Of the skipped files, those the destination already had unchanged. */
  readonly unchanged: number;
  /** Entries deleted (with dryRun: that would be deleted). */
  readonly deleted: number;
  readonly directoriesCreated: number;
  /** Relative paths of the files that were (or, with dryRun, would be) transferred. */
  readonly files: readonly string[];
  /**
   * With `verify`: the server's checksum command (`HASH`, `XSHA256`…), or undefined when it offers
   * none (then size and time decide).
   */
  readonly checksum: string | undefined;
  /** With `verify`: the checksum files were compared by (`SHA-256`…); undefined when none was. */
  readonly verifiedBy: string | undefined;
  /** With `verify`: files of the same size whose checksums were compared. */
  readonly verified: number;
}

const TYPE_NAMES: Readonly<Record<Item['type'], string>> = {
  file: 'a file',
  dir: 'a directory',
  link: 'a symbolic link',
};

/**
 * A destination entry of another type left in the way (lftp: `Access failed: 550`, rsync replaces
 * it): a failure of that entry, the remote side's (exit 6) or the local one's (7), saying what
 * would replace it.
 */
export function typeConflict(
  upload: boolean,
  existing: Item,
  of: 'file' | 'directory',
  deleting: boolean,
): FerryError {
  const what = `${TYPE_NAMES[existing.type]} is in the way of the ${of}`;
  const why = deleting
    ? `${what}: it holds entries left out by --exclude, so --delete keeps it`
    : `${what}: --delete would replace it`;
  return new FerryError(upload ? 'ERR_REMOTE' : 'ERR_LOCAL', why);
}
