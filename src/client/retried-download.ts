import type { FerryClient } from './client.js';
import type { GetOptions, Progress } from './files.js';

/**
 * Downloads that a batch or a mirror may try again (runPool's retries): a try after one that wrote
 * bytes continues after them (REST, as get -c) when the server offers REST, rather than starting
 * over. `K` names a download (its job).
 */
export class RetriedDownloads<K> {
  /** Downloads that wrote bytes: their local file then holds what this run received. */
  private readonly begun = new Set<K>();

  /**
   * One try of `key`'s download. `opts.resume`: the local file held the file's first bytes before
   * this run (get -c, mirror -c). Returns the bytes this run brought to the file, the failed tries'
   * too (not what was there before a resume); its progress counts them the same way.
   */
  async get(worker: FerryClient, key: K, remote: string, local: string, opts: GetOptions): Promise<number> {
    const continued = opts.resume !== true && this.begun.has(key) && worker.features.has('REST');
    // A continued try goes on from what the failed ones wrote: its progress too (not from 0, which
    // made a bar start over with a wrong rate and ETA).
    const onProgress = (p: Progress): void => {
      if (p.bytes > 0) this.begun.add(key);
      const from = continued ? p.offset : 0;
      const total = p.total === undefined ? undefined : from + p.total;
      opts.onProgress?.({ bytes: from + p.bytes, total, offset: p.offset - from });
    };
    const r = await worker.get(remote, local, {
      ...opts,
      resume: opts.resume === true || continued,
      onProgress,
    });
    return r.bytes + (continued ? r.offset : 0);
  }
}
