/**
 * A mirror's permissions (mirror.ts's `perms`): SITE CHMOD for an upload, chmod for a download.
 * A server without SITE CHMOD (500, 502, 504), or one that answers it but keeps its own modes, is
 * asked no more, and told of once; a refusal for one file (550) is a note about that file only.
 */
import { chmod } from 'node:fs/promises';
import { ReplyError } from '../errors.js';
import { Code } from '../protocol/codes.js';
import { formatChmodMode } from '../protocol/mode.js';
import type { FerryClient } from './client.js';
import { fsPath } from './local-file.js';
import type { MirrorRun } from './mirror-run.js';
import { depth, isUnder, PERMS, type Item } from './mirror-trees.js';
import { processUmask } from './umask.js';

/** Replies to SITE CHMOD that mean the server has none (any other refusal is about the file). */
const NO_SITE_CHMOD: ReadonlySet<number> = new Set([
  Code.SyntaxError,
  Code.NotImplemented,
  Code.NotImplementedForParam,
]);

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

export class MirrorModes {
  readonly keepPerms: boolean;
  /** The server has no SITE CHMOD, or keeps its own modes: asked no more. */
  #chmodRefused = false;
  /** Whether a SITE CHMOD that was accepted was seen to take (MLST), once per run. */
  #chmodChecked = false;

  constructor(private readonly run: MirrorRun) {
    this.keepPerms = (run.o.perms ?? true) && !run.o.dryRun;
  }

  async chmodRemote(worker: FerryClient, rel: string, mode: number): Promise<boolean> {
    if (this.#chmodRefused) return false;
    try {
      await worker.chmod(this.run.remotePath(rel), mode);
      return true;
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      if (this.#chmodRefused) return false;
      if (NO_SITE_CHMOD.has(err.replyCode)) {
        this.#chmodRefused = true;
        this.run.emit({ kind: 'note', path: rel, message: `permissions not kept: ${err.message}` });
      } else this.run.emit({ kind: 'note', path: rel, message: `mode not set: ${err.message}` });
      return false;
    }
  }

  /**
   * After the first SITE CHMOD the server accepted, whether the mode took (MLST, when offered): a
   * server that answers 200 but lists a fixed mode would otherwise be asked again each run.
   */
  async #chmodTook(worker: FerryClient, rel: string, mode: number): Promise<boolean> {
    if (this.#chmodChecked || !worker.features.has('MLST')) return true;
    this.#chmodChecked = true;
    // A refused MLST tells nothing: the answer to SITE CHMOD stands.
    const now = await worker.stat(this.run.remotePath(rel)).then(
      (e) => e.mode,
      (err: unknown) => {
        if (err instanceof ReplyError) return undefined;
        throw err;
      },
    );
    if (now === undefined || (now & PERMS) === mode) return true;
    this.#chmodRefused = true;
    const listed = formatChmodMode(now & PERMS);
    this.run.emit({
      kind: 'note',
      path: rel,
      message: `permissions not kept: the server accepted SITE CHMOD ${formatChmodMode(mode)} but lists ${listed}`,
    });
    return false;
  }

  /**
   * A remote file about to be replaced that its owner may not write (one the last mirror gave a
   * read-only source's mode) is made writable for STOR: SITE CHMOD u+w, else removed (as lftp).
   * Should neither be allowed, STOR is tried all the same (the group may write it) and tells why.
   */
  async openRemoteFile(worker: FerryClient, rel: string): Promise<void> {
    const old = this.run.dst.get(rel);
    if (old?.type !== 'file' || old.mode === undefined || (old.mode & 0o200) !== 0) return;
    const target = this.run.remotePath(rel);
    if (!this.#chmodRefused && (await accepted(worker.chmod(target, old.mode | 0o200)))) return;
    await accepted(worker.remove(target, { signal: this.run.o.signal }));
  }

  /** The mode a downloaded entry gets: the listing's less the umask; undefined when not kept. */
  localMode(item: Item): number | undefined {
    return this.keepPerms && item.mode !== undefined ? item.mode & ~processUmask() & PERMS : undefined;
  }

  /**
   * An unchanged file whose mode is not the one a transfer would give it gets that mode (a mirror
   * cut before its SITE CHMOD, a mode changed since): a rerun converges. Where the destination's
   * mode is unknown (a listing without modes) nothing is asked.
   */
  async keepMode(rel: string, item: Item, dstItem: Item): Promise<void> {
    const { run } = this;
    if (!this.keepPerms || item.mode === undefined || dstItem.mode === undefined) return;
    const mode = run.upload ? item.mode : this.localMode(item);
    if (mode === undefined || (dstItem.mode & PERMS) === mode || (run.upload && this.#chmodRefused)) return;
    if (run.upload) {
      // Cut by a lost connection (a server restarting), it is asked again, as the checksum is.
      await run.conn.live();
      const set = await run.conn.run(
        async (client) =>
          (await this.chmodRemote(client, rel, mode)) && (await this.#chmodTook(client, rel, mode)),
        run.stepRetry(rel),
      );
      if (!set) return;
    } else await chmod(fsPath(run.localPath(rel)), mode);
    const was = formatChmodMode(dstItem.mode & PERMS);
    run.emit({ kind: 'note', path: rel, message: `mode ${was} set to ${formatChmodMode(mode)}` });
  }

  /**
   * Directory permissions, set last, deepest first: a directory closed to its owner is one nothing
   * more is written into (or below).
   */
  async directories(): Promise<void> {
    const { run } = this;
    if (!this.keepPerms) return;
    const dirs = [...run.src]
      .filter(([rel, i]) => i.type === 'dir' && !run.skippedTrees.has(rel) && !isUnder(rel, run.skippedTrees))
      .sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, { mode }] of dirs) {
      run.aborted();
      if (mode === undefined) continue;
      if (run.upload) {
        if (!this.#chmodRefused && run.dst.get(rel)?.mode !== mode)
          await this.chmodRemote(await run.conn.live(), rel, mode);
      } else {
        // Its owner keeps rwx: the next mirror writes into it (a read-only server directory).
        await chmod(fsPath(run.localPath(rel)), (mode & ~processUmask() & PERMS) | 0o700);
      }
    }
  }
}
