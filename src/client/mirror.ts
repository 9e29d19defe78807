import { mkdir, stat } from 'node:fs/promises';
import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient } from './client.js';
import { systemAsLocal } from './errors.js';
import { deleteExtras, makeDirectories, transferFiles } from './mirror-apply.js';
import { mirrorFilter, type MirrorFilterOptions } from './mirror-filter.js';
import { MirrorModes } from './mirror-modes.js';
import { planFiles, type Plan } from './mirror-plan.js';
import type { MirrorEvent, MirrorResult } from './mirror-report.js';
import { ExtraConnections, MirrorRun } from './mirror-run.js';
import { scanLocal, scanRemote, type Item, type LeftOut } from './mirror-trees.js';
import { keysOf, refuseUnknownKeys } from './option-keys.js';
import { RetriedConnection } from './retried-step.js';

export { needsTransfer } from './mirror-plan.js';
export type { MirrorEvent, MirrorResult } from './mirror-report.js';
export { MAX_REMOTE_DEPTH } from './mirror-trees.js';

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
 *
 * The parts: mirror-trees.ts lists both sides, mirror-plan.ts decides what to transfer,
 * mirror-apply.ts and mirror-modes.ts do it, mirror-report.ts says what happened.
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
  // The --parallel connections, opened once: for the listing, the plan's queries, the transfers.
  const extra = new ExtraConnections(o);
  try {
    return await mirrorTrees(conn, extra, o, emit);
  } catch (err) {
    // The local tree's own failures (mkdir, readdir, utimes, rm) are the client's LocalError.
    throw systemAsLocal(err);
  } finally {
    await extra.close();
    await conn.close();
  }
}

async function mirrorTrees(
  conn: RetriedConnection,
  extra: ExtraConnections,
  o: MirrorOptions,
  emit: (e: MirrorEvent) => void,
): Promise<MirrorResult> {
  const upload = o.direction === 'upload';
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
  const remote = await scanRemote(conn, o.remote, {
    onRetry: onListingRetry,
    signal: o.signal,
    excluded,
    leftOut: remoteLeftOut,
    helpers: () => extra.open(),
  }).catch(async (err: unknown) => {
    const file = await rootIsFile(conn.client, o.remote, upload, err);
    if (file !== err) throw file;
    if (upload && o.dryRun && err instanceof ReplyError)
      return { tree: new Map<string, Item>(), skips: [], unlisted: [], unread: [] };
    throw err;
  });
  // What the connection that listed learnt (a later one, after a reconnect, has listed nothing).
  const listsDotFiles = conn.client.listsDotFiles;
  // Only once the remote directory was listed: a download of one that is missing creates nothing.
  if (!upload && !o.dryRun) await mkdir(o.local, { recursive: true });
  const remoteTree = remote.tree;
  const localTree = await scanLocal(o.local, excluded, localLeftOut).catch((err: unknown) => {
    if (!upload && o.dryRun) return new Map<string, Item>();
    throw err;
  });
  const run = upload
    ? new MirrorRun(o, conn, emit, localTree, remoteTree, remoteLeftOut, extra)
    : new MirrorRun(o, conn, emit, remoteTree, localTree, localLeftOut, extra);

  // Remote names that cannot be mirrored (their local namesakes are left alone too).
  for (const r of remote.skips) run.skip(r.rel, r.reason);
  // What is under a remote directory that could not be listed is unknown: left alone both sides.
  for (const u of remote.unlisted) {
    run.skippedTrees.add(u.rel);
    emit({ kind: 'failed', path: u.rel, error: u.error });
  }
  // A listing line the client cannot read is an entry it does not know, never one that is absent.
  for (const u of remote.unread) {
    run.partlyListed.add(u.rel);
    const message = `the server's listing has ${u.lines} line${u.lines === 1 ? '' : 's'} the client cannot read: those entries are not mirrored`;
    emit({ kind: 'note', path: u.rel, message });
  }

  const modes = new MirrorModes(run);
  await makeDirectories(run);
  let plan: Plan;
  let transferred: number;
  let bytes: number;
  try {
    plan = await planFiles(run, modes);
    ({ transferred, bytes } = await transferFiles(run, modes, plan));
  } finally {
    await extra.close();
  }

  // As for a file that failed: the mirror fails, and deletes nothing.
  if (remote.unlisted[0]) throw remote.unlisted[0].error;
  if (run.conflicts[0]) throw run.conflicts[0];
  if (run.unmade.length > 0) throw run.unmade[0];

  await deleteExtras(run, listsDotFiles);
  await modes.directories();

  return {
    transferred,
    bytes,
    skipped: run.skipped,
    unchanged: run.unchanged,
    deleted: run.deleted,
    directoriesCreated: run.directoriesCreated,
    files: run.files,
    checksum: plan.checksum,
    verifiedBy: run.verifiedBy,
    verified: run.verified,
  };
}
