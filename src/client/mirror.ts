import { chmod, mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, ReplyError } from '../errors.js';
import { decodeBytes } from '../protocol/byte-text.js';
import { Code } from '../protocol/codes.js';
import { formatChmodMode } from '../protocol/mode.js';
import type { FerryClient, Progress, RemoteEntry } from './client.js';
import { safeLocalName } from './batch.js';
import { checksumMethod, localChecksum } from './checksum.js';
import { abortedError, isTransient, systemAsLocal } from './errors.js';
import { fsPath } from './local-file.js';
import { mayAskMdtm, NO_MDTM, sameSize, timeUndecided } from './mirror-compare.js';
import { CONTINUED, cutAfterSource, NOT_CONTINUED, smallerPart, tailRange } from './mirror-continue.js';
import { mirrorFilter, type Excluded, type MirrorFilterOptions } from './mirror-filter.js';
import { keysOf, refuseUnknownKeys } from './option-keys.js';
import { runPool, type Reconnect } from './pool.js';
import { readLocalRange, readRemoteRange } from './remote-range.js';
import { RetriedConnection } from './retried-step.js';
import { CHANGED_ON_SERVER, RetriedDownloads } from './retried-download.js';
import { processUmask } from './umask.js';
import { joinRemote } from './url.js';

/**
 * Recursive mirror between a local directory and a remote one, either way. A file is transferred
 * when the destination lacks it, its size differs, or its modification time differs from the
 * source's, older or newer, beyond the precision of the listing (LIST shows minutes): a destination
 * file changed after the last mirror is restored. Transferred files get the source's modification
 * time (locally always, to the second with MDTM where the listing shows less; remotely with MFMT,
 * or MDTM with a time, when the server allows it), so an unchanged tree transfers nothing the next
 * time. `delete` removes what the source does not have.
 * Remote directories are listed with dot-files (MLSD, else LIST -a where the server takes it).
 * With `parallel` > 1 the files travel over that many connections (`connect` opens the extra ones).
 * Permissions are kept (`perms`), as lftp's mirror keeps them: an uploaded file or a directory gets
 * its local mode with SITE CHMOD; a downloaded one the listing's (MLSD unix.mode, LIST's rwx)
 * less the umask. A remote file its owner may not write is made writable (or removed) to be
 * replaced.
 *
 * Symbolic links are skipped in the source and never followed in the destination: a destination
 * link where the source has a file or a directory is a type conflict like a file in the way of a
 * directory. Without `delete` a type conflict fails (one `failed` event with `conflict`, nothing
 * under it touched), the rest of the tree is mirrored, and the mirror then fails, as lftp's does:
 * the destination lacks what the source has; with `delete` the destination entry itself (the link,
 * never what it points to) is removed and replaced.
 */

/** `exclude` and `include`: see mirror-filter.ts. */
export interface MirrorOptions extends MirrorFilterOptions {
  readonly direction: 'upload' | 'download';
  /** The local directory (created for downloads). */
  readonly local: string;
  /** The remote directory ('' = login directory; created for uploads). */
  readonly remote: string;
  /**
   * Delete destination entries the source does not have; a download keeps local dot-files when the
   * server's listing cannot show them (it refused LIST -a), with a `skip` event.
   */
  readonly delete?: boolean;
  /** Transfers at once (default 1); more than 1 needs `connect`. */
  readonly parallel?: number;
  /** Opens another connection like the given one (for `parallel`). */
  readonly connect?: () => Promise<FerryClient>;
  /**
   * Times a file is tried again after a transient failure (as transferBatch's `retries`; default
   * 0), each announced with a `retry` event; a lost connection is replaced as there (`reconnect`
   * events).
   */
  readonly retries?: number;
  /**
   * Continue a destination file smaller than the source (lftp mirror -c): REST for a download, APPE
   * at its size for an upload, rather than sending it all again; its size is then checked (and with
   * `verify` its checksum). Only a file that can be a cut transfer of this source is continued
   * (mirror-continue.ts): for an upload to a server with a checksum, the remote file's must be the
   * local file's first bytes'; otherwise the destination must be newer than the source. Another
   * version is sent whole, with a `note`.
   */
  readonly continue?: boolean;
  /**
   * Files of the same size are the same, whatever their times (rsync --size-only, lftp
   * --ignore-time); `verify` still compares their checksums. A size not reported: times decide.
   */
  readonly sizeOnly?: boolean;
  /**
   * Compare files of the same size by content: the server's checksum (HASH, XSHA256, XMD5/MD5)
   * against the local file's, whatever their times. A server with none of them: size and time.
   */
  readonly verify?: boolean;
  /** Plan only: report what would happen, change nothing. */
  readonly dryRun?: boolean;
  /**
   * Keep permissions (default true): transferred files and the directories get the source's mode
   * (remotely with SITE CHMOD: a server that refuses it is told of once, with a `note`; locally the
   * listing's mode less the umask, a file never more open than that while it is written).
   */
  readonly perms?: boolean;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: MirrorEvent) => void;
}

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
   * under it is transferred or deleted), or a type conflict (`conflict`); the others go on, then
   * the mirror fails with the first.
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

/** A file to transfer; `partial`: the destination has its first bytes (continue). */
interface Job {
  readonly rel: string;
  readonly item: Item;
  readonly partial: boolean;
}

interface Item {
  readonly type: 'file' | 'dir' | 'link';
  /** null: the server did not report it (an MLSD without the size fact). */
  readonly size: number | null;
  readonly mtime: number;
  /** How exact `mtime` is, in ms (Infinity: unknown). */
  readonly precision: number;
  /** Permission bits, when known (a remote listing may not show them). */
  readonly mode?: number;
}

type Tree = Map<string, Item>;

/** Entries left out by the filter, each side's (never walked, transferred or deleted). */
type LeftOut = Set<string>;

async function scanLocal(root: string, excluded?: Excluded, leftOut?: LeftOut): Promise<Tree> {
  const tree: Tree = new Map();
  const walk = async (dir: string, rel: string): Promise<void> => {
    // Names as bytes: one that is not UTF-8 keeps its bytes (byte-text.ts), as a remote one does.
    for (const d of await readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' })) {
      const name = decodeBytes(d.name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const full = path.join(dir, name);
      if (excluded?.(r, d.isDirectory())) {
        leftOut?.add(r);
        continue;
      }
      if (d.isSymbolicLink()) {
        tree.set(r, { type: 'link', size: 0, mtime: 0, precision: Infinity });
      } else if (d.isDirectory()) {
        const s = await stat(fsPath(full));
        tree.set(r, { type: 'dir', size: 0, mtime: 0, precision: Infinity, mode: s.mode & PERMS });
        await walk(full, r);
      } else if (d.isFile()) {
        const s = await stat(fsPath(full));
        tree.set(r, { type: 'file', size: s.size, mtime: s.mtimeMs, precision: 1, mode: s.mode & PERMS });
      }
    }
  };
  await walk(root, '');
  return tree;
}

/**
 * How deep a remote tree is walked: a server that lists a directory inside itself (a symbolic link
 * loop shown as a plain directory) would otherwise be walked without end.
 */
export const MAX_REMOTE_DEPTH = 100;

/**
 * The mode bits a mirror keeps: rwx for owner, group and others. Never setuid, setgid or sticky (as
 * lftp): any server could otherwise have a root mirror make setuid-root files, and an upload would
 * publish them where the server applies SITE CHMOD 4755.
 */
const PERMS = 0o777;

/** A remote entry left out of the tree, and why (a `skip` event). */
interface RemoteSkip {
  readonly rel: string;
  readonly reason: string;
}

/** Why a listed name cannot be mirrored, or undefined when it can. */
function unusableName(name: string): string | undefined {
  if (name.includes('/')) return 'unsafe file name from the server (it holds a /)';
  // The same rule as get's (batch.ts): no local separator (Windows' \), `.`, `..` or NUL either.
  if (!safeLocalName(name)) return 'unsafe file name from the server';
  if (/[\r\n]/.test(name)) return 'the name holds a line break: it cannot be asked for by name';
  return undefined;
}

async function scanRemote(
  conn: RetriedConnection,
  root: string,
  onRetry: (rel: string, retry: number, error: unknown) => void,
  signal?: AbortSignal,
  excluded?: Excluded,
  leftOut?: LeftOut,
): Promise<{ tree: Tree; skips: RemoteSkip[]; unlisted: { rel: string; error: ReplyError }[] }> {
  const tree: Tree = new Map();
  const skips: RemoteSkip[] = [];
  // Subdirectories the server refused to list (as lftp and rsync, the walk goes on without them).
  const unlisted: { rel: string; error: ReplyError }[] = [];
  const walk = async (dir: string, rel: string, level: number): Promise<void> => {
    let entries: RemoteEntry[];
    try {
      // A listing cut by a lost connection (a server restarting) is asked again, as a file would be.
      entries = await conn.run(
        (client) => client.list(dir, { signal, all: true, directory: true }),
        (retry, error) => onRetry(rel, retry, error),
      );
    } catch (err) {
      if (level === 1 || !(err instanceof ReplyError)) throw err;
      unlisted.push({ rel, error: err });
      return;
    }
    // A name listed twice (a file and a directory) is neither: which one is real cannot be told.
    const seen = new Map<string, number>();
    for (const e of entries) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const count = seen.get(e.name) ?? 0;
      if (count === 0) continue; // reported already
      if (excluded?.(r, e.type === 'dir')) {
        leftOut?.add(r);
        continue;
      }
      const unusable =
        unusableName(e.name) ??
        (count > 1 ? `listed ${count} times by the server in one directory` : undefined) ??
        (e.type === 'dir' && level >= MAX_REMOTE_DEPTH
          ? `more than ${MAX_REMOTE_DEPTH} directory levels deep (a directory that lists itself?)`
          : undefined);
      if (unusable !== undefined) {
        seen.set(e.name, 0);
        skips.push({ rel: r, reason: unusable });
        continue;
      }
      tree.set(r, {
        type: e.type,
        size: e.size,
        mtime: e.modified.getTime(),
        precision: e.modifiedPrecisionMs,
        mode: e.mode,
      });
      if (e.type === 'dir') await walk(joinRemote(dir, e.name), r, level + 1);
    }
  };
  await walk(root, '', 1);
  return { tree, skips, unlisted };
}

/** Replies to SITE CHMOD that mean the server has none (any other refusal is about the file). */
const NO_SITE_CHMOD: ReadonlySet<number> = new Set([
  Code.SyntaxError,
  Code.NotImplemented,
  Code.NotImplementedForParam,
]);

/**
 * Whether `src` should replace `dst`: missing, other size, or another modification time (older or
 * newer) beyond the precision of the two times. A size not reported decides nothing: then the
 * times do, and with neither known the file is sent.
 */
export function needsTransfer(src: Item, dst: Item | undefined): boolean {
  if (!dst || dst.type !== 'file') return true;
  const sized = src.size !== null && dst.size !== null;
  if (sized && src.size !== dst.size) return true;
  if (!Number.isFinite(src.precision) || !Number.isFinite(dst.precision)) return !sized;
  const tolerance = Math.max(src.precision, dst.precision, 1000);
  return Math.abs(src.mtime - dst.mtime) > tolerance;
}

function depth(rel: string): number {
  return rel.split('/').length;
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
function typeConflict(
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

/** Whether `rel` is inside (strictly below) one of `roots`. */
function isUnder(rel: string, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0) return false;
  for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
    if (roots.has(rel.slice(0, i))) return true;
  }
  return false;
}

/**
 * `err` from making or listing the mirror's remote root, as a usage error when the root is a file:
 * a wrong argument (exit 2, as get's URL of a directory), not the server's refusal (`MKD x: 550
 * File exists`). Any other failure, or a root that is no file, is returned as it was.
 */
async function rootIsFile(
  client: FerryClient,
  root: string,
  upload: boolean,
  err: unknown,
): Promise<unknown> {
  const refused =
    err instanceof ReplyError || (err instanceof FerryError && err.code === 'ERR_NOT_DIRECTORY');
  if (root === '' || !refused) return err;
  const entry = await client.stat(root).catch(() => undefined);
  if (entry?.type !== 'file') return err;
  const use = upload ? 'mirror uploads into a directory; put sends one file' : 'get fetches one file';
  return new FerryError('ERR_USAGE', `The remote ${root} is a file, not a directory (${use}).`);
}

/** Whether a command was done: false when the server refused it (a reply); other errors throw. */
async function accepted(command: Promise<void>): Promise<boolean> {
  try {
    await command;
    return true;
  } catch (err) {
    if (err instanceof ReplyError) return false;
    throw err;
  }
}

const MIRROR_OPTION_KEYS = keysOf<MirrorOptions>({
  direction: true,
  local: true,
  remote: true,
  delete: true,
  parallel: true,
  connect: true,
  retries: true,
  continue: true,
  sizeOnly: true,
  verify: true,
  dryRun: true,
  perms: true,
  signal: true,
  onEvent: true,
  exclude: true,
  include: true,
});

export async function mirror(client: FerryClient, o: MirrorOptions): Promise<MirrorResult> {
  refuseUnknownKeys(o, MIRROR_OPTION_KEYS, 'mirror() options');
  const emit = (e: MirrorEvent): void => o.onEvent?.(e);
  // The connection for the mirror's own remote steps (the listing, directories, checksums,
  // deletions, directory modes): the given one until a retry replaced it (a server restarting), or
  // until the pool lost it; a replacement is opened as the pool's workers open theirs, and closed
  // at the end.
  const conn = new RetriedConnection(client, {
    retries: o.retries,
    connect: o.connect,
    signal: o.signal,
    onReconnect: (r) => emit({ kind: 'reconnect', path: '', ...r }),
  });
  try {
    return await mirrorTrees(conn, o, emit);
  } catch (err) {
    // The local tree's own failures (mkdir, readdir, utimes, rm) are the client's LocalError.
    throw systemAsLocal(err);
  } finally {
    await conn.close();
  }
}

async function mirrorTrees(
  conn: RetriedConnection,
  o: MirrorOptions,
  emit: (e: MirrorEvent) => void,
): Promise<MirrorResult> {
  const upload = o.direction === 'upload';
  const aborted = (): void => {
    if (o.signal?.aborted) throw abortedError(o.signal, 'Mirror aborted');
  };
  const remotePath = (rel: string): string => (rel === '' ? o.remote : joinRemote(o.remote, rel));
  const localPath = (rel: string): string => path.join(o.local, ...rel.split('/'));
  // A server that refuses the checksum of one file (a size limit, a busy hasher) leaves that file
  // compared by size and time, as a server offering no checksum does; said, not silent.
  const refusedChecksum =
    (rel: string) =>
    (err: unknown): undefined => {
      if (!(err instanceof ReplyError)) throw err;
      emit({
        kind: 'note',
        path: rel,
        message: `checksum refused (${err.message}): compared by size and time`,
      });
      return undefined;
    };

  const excluded = mirrorFilter(o);
  const remoteLeftOut: LeftOut = new Set();
  const localLeftOut: LeftOut = new Set();

  // The destination root.
  if (upload) {
    const s = await stat(o.local).catch(() => undefined);
    if (!s?.isDirectory()) throw new FerryError('ERR_USAGE', `Not a local directory: ${o.local}`);
    if (o.remote !== '' && !o.dryRun)
      await conn.client.mkdir(o.remote, { parents: true }).catch(async (err: unknown) => {
        throw await rootIsFile(conn.client, o.remote, upload, err);
      });
  }

  const onListingRetry = (rel: string, retry: number, error: unknown): void =>
    emit({ kind: 'retry', path: rel, listing: true, retry, retries: o.retries ?? 0, error });
  const remote = await scanRemote(conn, o.remote, onListingRetry, o.signal, excluded, remoteLeftOut).catch(
    async (err: unknown) => {
      const file = await rootIsFile(conn.client, o.remote, upload, err);
      if (file !== err) throw file;
      if (upload && o.dryRun && err instanceof ReplyError)
        return { tree: new Map<string, Item>(), skips: [], unlisted: [] };
      throw err;
    },
  );
  // What the connection that listed learnt (a later one, after a reconnect, has listed nothing).
  const listsDotFiles = conn.client.listsDotFiles;
  // Only once the remote directory was listed: a download of one that is missing creates nothing.
  if (!upload && !o.dryRun) await mkdir(o.local, { recursive: true });
  const remoteTree = remote.tree;
  const localTree = await scanLocal(o.local, excluded, localLeftOut).catch((err: unknown) => {
    if (!upload && o.dryRun) return new Map<string, Item>();
    throw err;
  });
  const [src, dst] = upload ? [localTree, remoteTree] : [remoteTree, localTree];
  const dstLeftOut = upload ? remoteLeftOut : localLeftOut;
  /** A destination directory holding entries left out by the filter: never removed with them. */
  const holdsLeftOut = (rel: string): boolean => [...dstLeftOut].some((x) => x.startsWith(`${rel}/`));

  let skipped = 0;
  let unchanged = 0;
  let directoriesCreated = 0;
  let deleted = 0;
  const files: string[] = [];

  // Source paths left alone with everything under them: type conflicts without `delete` (the
  // destination has a file or a link where the source has a directory: nothing may be written
  // under it, least of all through a link) and the source's symbolic links.
  const skippedTrees = new Set<string>();
  const skip = (rel: string, reason: string): void => {
    skipped++;
    skippedTrees.add(rel);
    emit({ kind: 'skip', path: rel, reason });
  };
  // Remote names that cannot be mirrored (their local namesakes are left alone too).
  for (const r of remote.skips) skip(r.rel, r.reason);
  // What is under a remote directory that could not be listed is unknown: left alone both sides.
  for (const u of remote.unlisted) {
    skippedTrees.add(u.rel);
    emit({ kind: 'failed', path: u.rel, error: u.error });
  }
  // Type conflicts left alone (no `delete`, or entries left out kept the directory): failures.
  const conflicts: FerryError[] = [];
  const conflict = (rel: string, existing: Item, of: 'file' | 'directory'): void => {
    skippedTrees.add(rel);
    const error = typeConflict(upload, existing, of, o.delete ?? false);
    conflicts.push(error);
    emit({ kind: 'failed', path: rel, error, conflict: true });
  };

  // Destination entries removed, with what was under them (the extras pass must not remove it again).
  const gone = new Set<string>();

  // Deletions first when a type changes (a file where the source has a directory, and vice versa;
  // a symbolic link is removed itself, never what it points to).
  const removeDst = async (rel: string, item: Item): Promise<void> => {
    emit({ kind: 'delete', path: rel });
    deleted++;
    gone.add(rel);
    dst.delete(rel);
    if (o.dryRun) return;
    if (upload)
      await (await conn.live()).remove(remotePath(rel), { recursive: item.type === 'dir', signal: o.signal });
    else await rm(fsPath(localPath(rel)), { recursive: true, force: true });
  };

  // Permissions (see `perms`): a server without SITE CHMOD (500, 502, 504), or one that answers it
  // but keeps its own modes, is asked no more, and told of once; a refusal for one file (550) is a
  // note about that file only.
  const keepPerms = (o.perms ?? true) && !o.dryRun;
  let chmodRefused = false;
  /** Whether a SITE CHMOD that was accepted was seen to take (MLST), once per run. */
  let chmodChecked = false;
  const chmodRemote = async (worker: FerryClient, rel: string, mode: number): Promise<boolean> => {
    if (chmodRefused) return false;
    try {
      await worker.chmod(remotePath(rel), mode);
      return true;
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      if (chmodRefused) return false;
      if (NO_SITE_CHMOD.has(err.replyCode)) {
        chmodRefused = true;
        emit({ kind: 'note', path: rel, message: `permissions not kept: ${err.message}` });
      } else emit({ kind: 'note', path: rel, message: `mode not set: ${err.message}` });
      return false;
    }
  };
  /**
   * After the first SITE CHMOD the server accepted, whether the mode took (MLST, when offered): a
   * server that answers 200 but lists a fixed mode would otherwise be asked again each run.
   */
  const chmodTook = async (worker: FerryClient, rel: string, mode: number): Promise<boolean> => {
    if (chmodChecked || !worker.features.has('MLST')) return true;
    chmodChecked = true;
    // A refused MLST tells nothing: the answer to SITE CHMOD stands.
    const now = await worker.stat(remotePath(rel)).then(
      (e) => e.mode,
      (err: unknown) => {
        if (err instanceof ReplyError) return undefined;
        throw err;
      },
    );
    if (now === undefined || (now & PERMS) === mode) return true;
    chmodRefused = true;
    const listed = formatChmodMode(now & PERMS);
    emit({
      kind: 'note',
      path: rel,
      message: `permissions not kept: the server accepted SITE CHMOD ${formatChmodMode(mode)} but lists ${listed}`,
    });
    return false;
  };
  /**
   * A remote file about to be replaced that its owner may not write (one the last mirror gave a
   * read-only source's mode) is made writable for STOR: SITE CHMOD u+w, else removed (as lftp).
   * Should neither be allowed, STOR is tried all the same (the group may write it) and tells why.
   */
  const openRemoteFile = async (worker: FerryClient, rel: string): Promise<void> => {
    const old = dst.get(rel);
    if (old?.type !== 'file' || old.mode === undefined || (old.mode & 0o200) !== 0) return;
    const target = remotePath(rel);
    if (!chmodRefused && (await accepted(worker.chmod(target, old.mode | 0o200)))) return;
    await accepted(worker.remove(target, { signal: o.signal }));
  };
  /** The mode a downloaded entry gets: the listing's less the umask; undefined when not kept. */
  const localMode = (item: Item): number | undefined =>
    keepPerms && item.mode !== undefined ? item.mode & ~processUmask() & PERMS : undefined;

  /** A remote step's retry, told as an event. */
  const stepRetry =
    (rel: string) =>
    (retry: number, error: unknown): void =>
      emit({ kind: 'retry', path: rel, retry, retries: o.retries ?? 0, error });
  /**
   * An unchanged file whose mode is not the one a transfer would give it gets that mode (a mirror
   * cut before its SITE CHMOD, a mode changed since): a rerun converges. Where the destination's
   * mode is unknown (a listing without modes) nothing is asked.
   */
  const keepMode = async (rel: string, item: Item, dstItem: Item): Promise<void> => {
    if (!keepPerms || item.mode === undefined || dstItem.mode === undefined) return;
    const mode = upload ? item.mode : localMode(item);
    if (mode === undefined || (dstItem.mode & PERMS) === mode || (upload && chmodRefused)) return;
    if (upload) {
      // Cut by a lost connection (a server restarting), it is asked again, as the checksum is.
      await conn.live();
      const set = await conn.run(
        async (client) => (await chmodRemote(client, rel, mode)) && (await chmodTook(client, rel, mode)),
        stepRetry(rel),
      );
      if (!set) return;
    } else await chmod(fsPath(localPath(rel)), mode);
    const was = formatChmodMode(dstItem.mode & PERMS);
    emit({ kind: 'note', path: rel, message: `mode ${was} set to ${formatChmodMode(mode)}` });
  };

  // Directories, shallow first.
  for (const [rel] of [...src]
    .filter(([, i]) => i.type === 'dir')
    .sort((a, b) => depth(a[0]) - depth(b[0]))) {
    aborted();
    if (isUnder(rel, skippedTrees)) continue;
    const existing = dst.get(rel);
    if (existing?.type === 'dir') continue;
    if (existing) {
      if (!o.delete) {
        conflict(rel, existing, 'directory');
        continue;
      }
      await removeDst(rel, existing);
    }
    emit({ kind: 'mkdir', path: rel });
    directoriesCreated++;
    if (o.dryRun) continue;
    if (upload) await (await conn.live()).mkdir(remotePath(rel));
    else await mkdir(fsPath(localPath(rel)), { recursive: true });
  }

  /**
   * A same-size file whose listed time (LIST's minute, vsftpd's day) cannot tell it from one changed
   * since the last mirror: the remote time to the second (MDTM) decides; a server that does not
   * tell it has the file sent (the safe side).
   */
  let noMdtmSaid = false;
  /** Said once per run (at the first such file): otherwise every run re-sends them silently. */
  const noMdtm = (rel: string): false => {
    if (!noMdtmSaid) emit({ kind: 'note', path: rel, message: NO_MDTM });
    noMdtmSaid = true;
    return false;
  };
  const exactTimesAgree = async (rel: string, item: Item, other: Item): Promise<boolean> => {
    if (!mayAskMdtm((await conn.live()).features)) return noMdtm(rel);
    const t = await conn.run((client) => client.modified(remotePath(rel)), stepRetry(rel));
    if (t === undefined) return noMdtm(rel);
    const exact: Item = { ...(upload ? other : item), mtime: t.getTime(), precision: 1000 };
    return upload ? !needsTransfer(item, exact) : !needsTransfer(exact, other);
  };
  /**
   * For an upload to a server with a checksum: whether the remote file is the local file's start
   * (undefined: no checksum to tell, or the server refused it).
   */
  const remoteIsStart = async (rel: string, other: Item): Promise<boolean | undefined> => {
    if (!upload || checksumMethod((await conn.live()).features) === undefined) return undefined;
    const remote = await conn
      .run((client) => client.checksum(remotePath(rel), { size: other.size ?? undefined }), stepRetry(rel))
      .catch((err: unknown) => {
        if (err instanceof ReplyError) return undefined;
        throw err;
      });
    if (!remote) return undefined;
    return remote.hex === (await localChecksum(localPath(rel), remote.algorithm, other.size ?? 0));
  };
  /**
   * Whether the destination's last bytes (the remote file's for an upload, the local one's for a
   * download) are the source's at the same offsets: the local file's range against the remote's.
   * A server refusing the read says so, and the file is sent whole.
   */
  const tailsAgree = async (rel: string, dstSize: number): Promise<boolean> => {
    const { start, length } = tailRange(dstSize);
    const remote = await conn
      .run((client) => readRemoteRange(client, remotePath(rel), start, length, o.signal), stepRetry(rel))
      .catch((err: unknown) => {
        if (!(err instanceof ReplyError)) throw err;
        emit({ kind: 'note', path: rel, message: `not continued (-c): ${err.message}: sent whole` });
        return undefined;
      });
    if (remote === undefined) return false;
    const local = await readLocalRange(localPath(rel), start, length);
    if (remote.length === length && remote.equals(local)) return true;
    emit({ kind: 'note', path: rel, message: NOT_CONTINUED.tail });
    return false;
  };
  /**
   * `continue`: whether a smaller destination file is a cut transfer of this source
   * (mirror-continue.ts): its checksum is the source's start, or (no checksum) it is newer than the
   * source AND its last bytes are the source's. Each file continued is said.
   */
  const continues = async (rel: string, item: Item, other: Item): Promise<boolean> => {
    if (!smallerPart(item, other) || other.size === null) return false;
    const start = await remoteIsStart(rel, other);
    if (start === false || (start === undefined && !cutAfterSource(item, other))) {
      emit({ kind: 'note', path: rel, message: start === false ? NOT_CONTINUED.prefix : NOT_CONTINUED.time });
      return false;
    }
    if (start === undefined && !(await tailsAgree(rel, other.size))) return false;
    emit({ kind: 'note', path: rel, message: start ? CONTINUED.prefix : CONTINUED.tail });
    return true;
  };

  // Files to transfer.
  const jobs: Job[] = [];
  const checksum = o.verify ? checksumMethod(conn.client.features) : undefined;
  const canVerify = checksum !== undefined;
  let verified = 0;
  let verifiedBy: string | undefined;
  for (const [rel, item] of src) {
    if (isUnder(rel, skippedTrees)) continue;
    if (item.type === 'link') {
      skip(rel, 'symbolic link');
      continue;
    }
    if (item.type !== 'file') continue;
    const existing = dst.get(rel);
    if (existing && existing.type !== 'file') {
      if (!o.delete || holdsLeftOut(rel)) {
        conflict(rel, existing, 'file');
        continue;
      }
      await removeDst(rel, existing);
    }
    const other = dst.get(rel);
    let same = !needsTransfer(item, other);
    if (o.sizeOnly && other?.type === 'file') same = sameSize(item, other) ?? same;
    let byChecksum = false;
    if (canVerify && other?.type === 'file' && other.size === item.size) {
      verified++;
      // Cut by a lost connection (a server restarting), it is asked again, as a listing would be.
      await conn.live();
      const remote = await conn
        .run((client) => client.checksum(remotePath(rel), { size: item.size ?? undefined }), stepRetry(rel))
        .catch(refusedChecksum(rel));
      if (remote) {
        byChecksum = true;
        verifiedBy = remote.algorithm;
        same = remote.hex === (await localChecksum(localPath(rel), remote.algorithm));
      }
    }
    if (same && !byChecksum && !o.sizeOnly && other?.type === 'file' && timeUndecided(item, other))
      same = await exactTimesAgree(rel, item, other);
    if (same) {
      skipped++;
      unchanged++;
      emit({ kind: 'unchanged', path: rel });
      if (other?.type === 'file') await keepMode(rel, item, other);
      continue;
    }
    // Its bytes stand for the source's first ones: only the rest travels.
    const partial = (o.continue ?? false) && other?.type === 'file' && (await continues(rel, item, other));
    jobs.push({ rel, item, partial });
    files.push(rel);
  }

  let transferred = 0;
  let bytes = 0;
  // A continued file must now be the source's size, and with verify have its checksum: bytes the
  // destination held that were not the source's would otherwise stay unnoticed.
  const checkContinued = async (worker: FerryClient, rel: string, item: Item): Promise<void> => {
    const size = upload
      ? (await worker.stat(remotePath(rel))).size
      : (await stat(fsPath(localPath(rel)))).size;
    const what = `${rel} was continued (-c)`;
    if (size !== item.size)
      throw new FerryError(
        'ERR_REMOTE',
        `${what}, but has ${size} bytes, not the ${item.size} of the source.`,
      );
    if (!canVerify) return;
    // Counted as compared, so that the summary does not say no file was.
    verified++;
    const remote = await worker
      .checksum(remotePath(rel), { size: item.size ?? undefined })
      .catch(refusedChecksum(rel));
    if (remote) verifiedBy = remote.algorithm;
    if (remote && remote.hex !== (await localChecksum(localPath(rel), remote.algorithm)))
      throw new FerryError(
        'ERR_REMOTE',
        `${what}, but its ${remote.algorithm} differs from the source's: what it held was not the source's start; mirror it again without -c.`,
      );
  };
  const downloads = new RetriedDownloads<string>(o.retries ?? 0, (rel) =>
    emit({ kind: 'note', path: rel, message: CHANGED_ON_SERVER }),
  );
  // Each file's bytes that moved, for one that then fails: they were sent all the same.
  const moved = new Map<string, number>();
  const runJob = async (worker: FerryClient, job: Job, attempt: number): Promise<void> => {
    aborted();
    const { rel, item, partial } = job;
    if (attempt === 0) emit({ kind: 'start', path: rel, size: item.size ?? undefined });
    const onProgress = (p: Progress): void => {
      moved.set(rel, p.bytes);
      emit({ kind: 'progress', path: rel, bytes: p.bytes, total: p.total });
    };
    let n: number;
    if (upload) {
      await openRemoteFile(worker, rel);
      n = (
        await worker.put(localPath(rel), remotePath(rel), { signal: o.signal, onProgress, resume: partial })
      ).bytes;
      moved.set(rel, n);
      if (partial) await checkContinued(worker, rel, item);
      await worker.setModified(remotePath(rel), new Date(item.mtime)).catch(() => false);
      if (keepPerms && item.mode !== undefined) await chmodRemote(worker, rel, item.mode);
    } else {
      const mode = localMode(item);
      const old = dst.get(rel);
      // A file rewritten in place is never more open than the listing says while it is written
      // (only its owner may read and write it, to write it: a read-only one too); a new one is
      // created with the mode.
      if (mode !== undefined && old?.type === 'file' && old.mode !== undefined)
        await chmod(fsPath(localPath(rel)), (old.mode & mode) | 0o600);
      // The listing's size stands for SIZE (one command less per file).
      n = await downloads.get(worker, rel, remotePath(rel), localPath(rel), {
        signal: o.signal,
        onProgress,
        size: item.size ?? undefined,
        mode,
        resume: partial,
      });
      moved.set(rel, n);
      if (partial) await checkContinued(worker, rel, item);
      if (mode !== undefined) await chmod(fsPath(localPath(rel)), mode);
      // LIST shows minutes, or only the day of an older file (vsftpd): MDTM tells the second.
      const exact =
        item.precision > 1000 && mayAskMdtm(worker.features)
          ? await worker.modified(remotePath(rel))
          : undefined;
      const t =
        exact ?? (Number.isFinite(item.precision) && item.mtime > 0 ? new Date(item.mtime) : undefined);
      if (t) await utimes(fsPath(localPath(rel)), t, t);
    }
    transferred++;
    bytes += n;
    emit({ kind: 'done', path: rel, bytes: n });
  };

  emit({ kind: 'planned', path: '', files: jobs.length });
  if (!o.dryRun && jobs.length > 0) {
    // A file that fails (a name the server refuses, no permission) does not stop the others, as in
    // lftp and rsync; the mirror then fails with the first failure, deleting nothing.
    const { failures, unsent } = await runPool(
      await conn.live(),
      jobs,
      {
        parallel: o.parallel,
        connect: o.connect,
        signal: o.signal,
        keepGoing: true,
        retries: o.retries ?? 0,
        transient: isTransient,
        onRetry: (job, retry, error) =>
          emit({ kind: 'retry', path: job.rel, retry, retries: o.retries ?? 0, error }),
        onReconnect: (r) => emit({ kind: 'reconnect', path: '', ...r }),
      },
      runJob,
    );
    for (const f of failures)
      emit({ kind: 'failed', path: f.job.rel, error: f.error, bytes: moved.get(f.job.rel) ?? 0 });
    if (unsent) emit({ kind: 'lost', path: '', files: unsent.jobs.length, error: unsent.error });
    if (failures[0]) throw failures[0].error;
    if (unsent) throw unsent.error;
  } else if (o.dryRun) {
    for (const j of jobs) emit({ kind: 'start', path: j.rel, size: j.item.size ?? undefined });
    transferred = jobs.length;
    bytes = jobs.reduce((sum, j) => sum + (j.item.size ?? 0), 0);
  }

  // As for a file that failed: the mirror fails, and deletes nothing.
  if (remote.unlisted[0]) throw remote.unlisted[0].error;
  if (conflicts[0]) throw conflicts[0];

  // Extras in the destination, shallow first (a removed directory takes its contents along).
  if (o.delete) {
    // A remote listing without dot-files (the server refused LIST -a) cannot tell a local dot-file
    // the server lacks from one it hides: such a file is kept.
    const hidesDotFiles = !upload && listsDotFiles !== true;
    const extras = [...dst].filter(([rel]) => !src.has(rel)).sort((a, b) => depth(a[0]) - depth(b[0]));
    for (const [rel, item] of extras) {
      aborted();
      if (isUnder(rel, gone) || skippedTrees.has(rel) || isUnder(rel, skippedTrees)) continue;
      if (hidesDotFiles && path.posix.basename(rel).startsWith('.')) {
        skip(rel, "not deleted: the server's listing does not show dot-files (it refused LIST -a)");
        continue;
      }
      if (item.type === 'dir' && holdsLeftOut(rel)) {
        // What else is in it goes (its own extras); the directory stays with what was left out.
        skipped++;
        emit({ kind: 'skip', path: rel, reason: 'not deleted: it holds excluded entries' });
        continue;
      }
      await removeDst(rel, item);
    }
  }

  // Directory permissions last, deepest first: a directory closed to its owner is one nothing more
  // is written into (or below).
  if (keepPerms) {
    const dirs = [...src]
      .filter(([rel, i]) => i.type === 'dir' && !skippedTrees.has(rel) && !isUnder(rel, skippedTrees))
      .sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, { mode }] of dirs) {
      aborted();
      if (mode === undefined) continue;
      if (upload) {
        if (!chmodRefused && dst.get(rel)?.mode !== mode) await chmodRemote(await conn.live(), rel, mode);
      } else {
        // Its owner keeps rwx: the next mirror writes into it (a read-only server directory).
        await chmod(fsPath(localPath(rel)), (mode & ~processUmask() & PERMS) | 0o700);
      }
    }
  }

  return {
    transferred,
    bytes,
    skipped,
    unchanged,
    deleted,
    directoriesCreated,
    files,
    checksum,
    verifiedBy,
    verified,
  };
}
