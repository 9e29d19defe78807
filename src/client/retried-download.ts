import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient } from './client.js';
import type { GetOptions, Progress } from './files.js';

/** The note for a begun download whose remote file is another now: it starts over. */
export const CHANGED_ON_SERVER = 'changed on the server: starting over';

/**
 * Downloads that a batch or a mirror may try again (runPool's retries): a try after one that wrote
 * bytes continues after them (REST, as get -c) when the server offers REST, rather than starting
 * over, but only onto the same version of the remote file: its identity (size, modification time,
 * MLST's unique fact) is read before each fresh try and again before a continued one; a file
 * replaced meanwhile (a server restarted with new content) is downloaded again from byte 0, as
 * bytes of two versions joined would be a file the server never had. `K` names a download.
 */
export class RetriedDownloads<K> {
  /** Downloads that wrote bytes: their local file then holds what this run received. */
  private readonly begun = new Set<K>();
  /** Each download's remote identity when its bytes began (undefined: the server tells none). */
  private readonly versions = new Map<K, string | undefined>();

  /**
   * @param retries Tries after the first (none: no identity is read, nothing will continue).
   * @param onStartOver A begun download's remote file changed: it starts over from byte 0.
   */
  constructor(
    private readonly retries: number,
    private readonly onStartOver?: (key: K) => void,
  ) {}

  /**
   * One try of `key`'s download. `opts.resume`: the local file held the file's first bytes before
   * this run (get -c, mirror -c). Returns the bytes this run brought to the file, the failed tries'
   * too (not what was there before a resume); its progress counts them the same way.
   */
  async get(worker: FerryClient, key: K, remote: string, local: string, opts: GetOptions): Promise<number> {
    const tracked = this.retries > 0 && opts.resume !== true && worker.features.has('REST');
    let continued = tracked && this.begun.has(key);
    if (tracked) {
      const now = await identity(worker, remote);
      const then = this.versions.get(key);
      // Not checkable now when it was the first time counts as changed.
      if (continued && then !== undefined && now !== then) {
        continued = false;
        this.begun.delete(key);
        this.onStartOver?.(key);
      }
      if (!continued) this.versions.set(key, now);
    }
    // A continued try goes on from what the failed ones wrote: its progress too (not from 0, which
    // made a bar start over with a wrong rate and ETA).
    const onProgress = (p: Progress): void => {
      if (p.bytes > 0) this.begun.add(key);
      const from = continued ? p.offset : 0;
      const total = p.total === undefined ? undefined : from + p.total;
      opts.onProgress?.({ bytes: from + p.bytes, total, offset: p.offset - from });
    };
    // A try from 0 empties the local file at its first byte (FileSink), the other version's too.
    const r = await worker.get(remote, local, {
      ...opts,
      resume: opts.resume === true || continued,
      onProgress,
    });
    return r.bytes + (continued ? r.offset : 0);
  }
}

/**
 * What tells one version of a remote file from another: its size, modification time and MLST's
 * `unique` (MLST, else SIZE and MDTM); undefined when the server tells none of them.
 */
async function identity(worker: FerryClient, remote: string): Promise<string | undefined> {
  try {
    const e = await worker.stat(remote);
    const modified = Number.isFinite(e.modifiedPrecisionMs) ? e.modified.getTime() : undefined;
    if (e.size === null && modified === undefined && e.unique === undefined) return undefined;
    return JSON.stringify([e.size, modified, e.unique]);
  } catch (err) {
    // Refused (no such file, no MLST or SIZE) or unreadable: nothing to compare; the transfer says
    // what is wrong.
    if (err instanceof ReplyError || (err instanceof FerryError && err.code === 'ERR_PROTOCOL'))
      return undefined;
    throw err;
  }
}
