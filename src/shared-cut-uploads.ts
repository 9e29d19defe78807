// The record of cut uploads several nodes share (server/cut-uploads.ts keeps it beside its file;
// db/cut-uploads.ts is PostgreSQL's). Here, apart from both, as db/ never imports server/.

/** A file version a cut upload left (storage identity, size, modification ms), recorded at `at` (ms). */
export interface CutRecord {
  readonly id?: string | undefined;
  readonly size: number;
  readonly modified: number;
  readonly at: number;
}

/** The records in a store every node sees, by user and (virtual) path; each call may reject. */
export interface SharedCutUploads {
  /** Keeps `r`, then drops what is older than `ttlMs` and the oldest beyond `max`. */
  put(username: string, path: string, r: CutRecord, o: { ttlMs: number; max: number }): Promise<void>;
  delete(username: string, path: string): Promise<void>;
  get(username: string, path: string): Promise<CutRecord | undefined>;
}
