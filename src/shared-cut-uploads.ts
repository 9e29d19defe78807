// The record of cut uploads several nodes share (server/cut-uploads.ts keeps it beside its file;
// db/cut-uploads.ts is PostgreSQL's). Here, apart from both, as db/ never imports server/.

/**
 * A file version a cut upload left (storage identity, size, modification ms), recorded at `at` (ms)
 * by the process `tag` names (random per process: two processes or nodes may record the same file
 * in the same millisecond, and `at` with `tag` still names one record; none in records written
 * before tags were).
 */
export interface CutRecord {
  readonly id?: string | undefined;
  readonly size: number;
  readonly modified: number;
  readonly at: number;
  readonly tag?: string | undefined;
}

/**
 * The records in a store every node sees, by user and path; each call may reject. The `path` is
 * the SHA-256 (hex) of the virtual path, as server/cut-uploads.ts keys it: its size is bounded.
 */
export interface SharedCutUploads {
  /**
   * Keeps `r`, then drops what is older than `ttlMs`, `username`'s oldest beyond `maxPerUser` and the
   * oldest of all beyond `max`. Resolves to the record `r` replaced, if one stood (expired or not):
   * an upload learns in the same round trip whether an earlier cut's record guards the file.
   */
  put(
    username: string,
    path: string,
    r: CutRecord,
    o: { ttlMs: number; max: number; maxPerUser: number },
  ): Promise<CutRecord | undefined>;
  /**
   * Drops the record; with `at`, only if it is the one recorded at `at` by `tag`'s process (an
   * upload's own, which another upload of the file may have replaced since: that one stays).
   */
  delete(username: string, path: string, at?: number, tag?: string): Promise<void>;
  get(username: string, path: string): Promise<CutRecord | undefined>;
}
