/**
 * One mirror run's shared state (mirror.ts): its options, its connection, the two trees once
 * listed, what it counted, and the steps every part takes (paths, events, skips, conflicts,
 * removing a destination entry).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient } from './client.js';
import { abortedError } from './errors.js';
import { fsPath } from './local-file.js';
import type { MirrorOptions } from './mirror.js';
import { typeConflict, type MirrorEvent } from './mirror-report.js';
import type { Item, LeftOut, Tree } from './mirror-trees.js';
import { openInWaves } from './pool.js';
import type { RetriedConnection } from './retried-step.js';
import { joinRemote } from './url.js';

export class MirrorRun {
  readonly upload: boolean;
  skipped = 0;
  unchanged = 0;
  directoriesCreated = 0;
  deleted = 0;
  /** With `verify`: files compared by checksum, and the checksum last used. */
  verified = 0;
  verifiedBy: string | undefined;
  /** Relative paths of the files to transfer. */
  readonly files: string[] = [];
  /**
   * Source paths left alone with everything under them: type conflicts without `delete` (the
   * destination has a file or a link where the source has a directory: nothing may be written
   * under it, least of all through a link) and the source's symbolic links.
   */
  readonly skippedTrees = new Set<string>();
  /** Type conflicts left alone (no `delete`, or entries left out kept the directory): failures. */
  readonly conflicts: FerryError[] = [];
  /** Directories the destination refused to make (nothing under them tried): failures. */
  readonly unmade: unknown[] = [];
  /**
   * Remote directories whose listing had lines the client could not read: a local entry in one
   * may be such a line, so a download's `delete` keeps it.
   */
  readonly partlyListed = new Set<string>();
  /** Destination entries removed, with what was under them (the extras pass must not remove it again). */
  readonly gone = new Set<string>();
  constructor(
    readonly o: MirrorOptions,
    readonly conn: RetriedConnection,
    readonly emit: (e: MirrorEvent) => void,
    readonly src: Tree,
    readonly dst: Tree,
    /** The destination's entries left out by the filter. */
    private readonly dstLeftOut: LeftOut,
    private readonly extra: ExtraConnections,
  ) {
    this.upload = o.direction === 'upload';
  }

  /** The --parallel connections besides the mirror's own, opened once (ExtraConnections). */
  openConnections(): Promise<FerryClient[]> {
    return this.extra.open();
  }

  /** The connections openConnections() opened, undefined when it was not called. */
  openedConnections(): Promise<FerryClient[] | undefined> {
    return this.extra.opened();
  }

  aborted(): void {
    if (this.o.signal?.aborted) throw abortedError(this.o.signal, 'Mirror aborted');
  }

  remotePath(rel: string): string {
    return rel === '' ? this.o.remote : joinRemote(this.o.remote, rel);
  }

  localPath(rel: string): string {
    return path.join(this.o.local, ...rel.split('/'));
  }

  /** A destination directory holding entries left out by the filter: never removed with them. */
  holdsLeftOut(rel: string): boolean {
    return [...this.dstLeftOut].some((x) => x.startsWith(`${rel}/`));
  }

  skip(rel: string, reason: string): void {
    this.skipped++;
    this.skippedTrees.add(rel);
    this.emit({ kind: 'skip', path: rel, reason });
  }

  conflict(rel: string, existing: Item, of: 'file' | 'directory'): void {
    this.skippedTrees.add(rel);
    const error = typeConflict(this.upload, existing, of, this.o.delete ?? false);
    this.conflicts.push(error);
    this.emit({ kind: 'failed', path: rel, error, conflict: true });
  }

  /** A directory the destination refused to make: a failure of it and what is under it. */
  directoryFailed(rel: string, error: unknown): void {
    this.skippedTrees.add(rel);
    this.unmade.push(error);
    this.emit({ kind: 'failed', path: rel, error, directory: true });
  }

  /** A remote step's retry, told as an event. */
  stepRetry(rel: string): (retry: number, error: unknown) => void {
    return (retry, error) =>
      this.emit({ kind: 'retry', path: rel, retry, retries: this.o.retries ?? 0, error });
  }

  /**
   * A server that refuses the checksum of one file (a size limit, a busy hasher) leaves that file
   * compared by size and time, as a server offering no checksum does; said, not silent.
   */
  refusedChecksum(rel: string): (err: unknown) => undefined {
    return (err) => {
      if (!(err instanceof ReplyError)) throw err;
      this.emit({
        kind: 'note',
        path: rel,
        message: `checksum refused (${err.message}): compared by size and time`,
      });
      return undefined;
    };
  }

  /**
   * Removes a destination entry: a type that changes (a file where the source has a directory, and
   * vice versa; a symbolic link is removed itself, never what it points to), or an extra.
   */
  async removeDst(rel: string, item: Item): Promise<void> {
    this.emit({ kind: 'delete', path: rel });
    this.deleted++;
    this.gone.add(rel);
    this.dst.delete(rel);
    if (this.o.dryRun) return;
    if (this.upload)
      await (
        await this.conn.live()
      ).remove(this.remotePath(rel), {
        recursive: item.type === 'dir',
        signal: this.o.signal,
      });
    else await rm(fsPath(this.localPath(rel)), { recursive: true, force: true });
  }
}

/**
 * The `parallel` - 1 connections besides the mirror's own (none without `connect`), opened once
 * when first asked for: the remote listing, the plan's queries and the transfers go over them.
 */
export class ExtraConnections {
  #extra: Promise<FerryClient[]> | undefined;
  #closed: Promise<void> | undefined;

  constructor(private readonly o: MirrorOptions) {}

  open(): Promise<FerryClient[]> {
    const { parallel = 1, connect, signal } = this.o;
    if (parallel <= 1 || !connect) return Promise.resolve([]);
    this.#extra ??= openInWaves(connect, parallel - 1, { signal });
    return this.#extra;
  }

  /** The connections open() opened, undefined when it was not called. */
  async opened(): Promise<FerryClient[] | undefined> {
    return this.#extra;
  }

  /** Closes them (once: after the transfers, and at the end of a mirror that failed before). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const extra = await this.#extra?.catch(() => []);
      await Promise.all((extra ?? []).map((c) => c.close()));
    })();
    return this.#closed;
  }
}
