import { writeAtomically } from '../atomic-file.js';
import { parseStateJson, readStateFile } from '../state-file.js';
import { isBanKey, type Ban } from './defender.js';

export interface BanState {
  active: Ban[];
  past: Ban[];
}

const EMPTY: BanState = { active: [], past: [] };

/**
 * The bans on disk (`<dataDir>/bans.json`), so that they survive a restart. Written atomically
 * (a temp file renamed over it); writes are serialized and coalesced, so a burst of bans costs one
 * write in flight and at most one waiting, always of the latest state.
 */
export class BanFile {
  private writing: Promise<void> | undefined;
  private pending: (() => BanState) | undefined;

  constructor(readonly path: string) {}

  /** The saved state; empty when there is no file yet. A damaged file is an error (never silently lost bans). */
  async load(): Promise<BanState> {
    return readBanFile(this.path);
  }

  /** Saves what `state()` returns when the write starts (the latest state). */
  save(state: () => BanState): Promise<void> {
    this.pending = state;
    this.writing ??= this.flush().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async flush(): Promise<void> {
    while (this.pending) {
      const state = this.pending();
      this.pending = undefined;
      await writeBanFile(this.path, state);
    }
  }
}

export async function readBanFile(file: string): Promise<BanState> {
  const text = await readStateFile(file);
  if (text === undefined) return EMPTY;
  const raw = parseStateJson(file, text) as Partial<BanState>;
  const bans = (v: unknown): Ban[] => (Array.isArray(v) ? v.filter(isBan) : []);
  return { active: bans(raw.active), past: bans(raw.past) };
}

export async function writeBanFile(file: string, state: BanState): Promise<void> {
  // `sudo ferry bans rm` with no server running: the file stays the data dir's owner's (runAs).
  await writeAtomically(file, JSON.stringify(state, null, 1) + '\n');
}

/** A ban of an address or an IPv6 network (anything else, `""` included, is no client's: ignored). */
function isBan(v: unknown): v is Ban {
  const b = v as Partial<Ban> | null;
  return (
    typeof b?.address === 'string' &&
    isBanKey(b.address) &&
    typeof b.since === 'number' &&
    typeof b.until === 'number' &&
    typeof b.bans === 'number'
  );
}
