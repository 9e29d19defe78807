// A user's quota and bandwidth limits around any storage: uploads are capped and paced, downloads
// paced, and every change of what the user stores is reported to the usage ledger.
import type { Readable, Transform } from 'node:stream';
import {
  QuotaBook,
  QuotaCap,
  quotaExceeded,
  scanUsage,
  SharedQuotaCap,
  type Flight,
  type Usage,
} from './quota.js';
import type { Logger } from '../logger.js';
import { chain } from './stream-chain.js';
import { isPaceable, Throttle, type RateBuckets } from './throttle.js';
import { prepareWrite, preparedBy } from './prepared-write.js';
import {
  isAbsent,
  type FileSource,
  type FileStat,
  type PreparedWrite,
  type StorageBackend,
  type StorageContext,
  type StorageFeature,
  type VPath,
} from './types.js';

type Put = (body: Readable) => Promise<{ bytes: number }>;

/** What LimitedStorage enforces for one user (an auth Principal has these fields). */
export interface UserLimits {
  username: string;
  /** Bytes over the user's home; 0 or absent: no limit. */
  quotaSize?: number;
  /** Regular files over the user's home; 0 or absent: no limit. */
  quotaFiles?: number;
  /** Bytes per second, shared by all of the user's transfers in this process; 0 or absent: unlimited. */
  uploadRate?: number;
  downloadRate?: number;
  /** Virtual folders (path → where): with them, changes are measured for the accounts sharing them. */
  folders?: Readonly<Record<string, string>>;
}

export interface LimitsContext {
  /** Where usage is kept, and the uploads in flight (one per process); without it, no quotas. */
  usage?: QuotaBook;
  rates: RateBuckets;
  /** Hears of an upload whose file could not be measured at its end (its usage then estimated). */
  logger?: Logger;
  /**
   * The other accounts whose trees show the file at `p` of `username`'s too (a shared folder), with
   * how many times: each change there changes their usage as well. Absent: trees share nothing.
   */
  sharers?: (username: string, p: VPath) => Promise<ReadonlyMap<string, number>>;
}

/** How long the stat that settles an upload's usage may take. */
const SETTLE_MS = 30_000;

/** `storage` as is when the user has no limits and no folders to share, else wrapped in LimitedStorage. */
export function withLimits(storage: StorageBackend, limits: UserLimits, ctx: LimitsContext): StorageBackend {
  const { quotaSize, quotaFiles, uploadRate, downloadRate } = limits;
  if (!quotaSize && !quotaFiles && !uploadRate && !downloadRate && !sharing(limits, ctx)) {
    // Buckets follow rate changes: a rate removed must not keep pacing this user's new transfers.
    ctx.rates.bucket(limits.username, 'upload', 0);
    ctx.rates.bucket(limits.username, 'download', 0);
    return storage;
  }
  return new LimitedStorage(storage, limits, ctx);
}

export class LimitedStorage implements StorageBackend {
  readonly features: ReadonlySet<StorageFeature>;
  readonly setModified?: NonNullable<StorageBackend['setModified']>;
  readonly chmod?: NonNullable<StorageBackend['chmod']>;
  readonly uniqueName?: NonNullable<StorageBackend['uniqueName']>;
  readonly checkRoot?: NonNullable<StorageBackend['checkRoot']>;
  readonly #quota: boolean;
  /** Changes are measured: for the user's quota, or for the accounts sharing a folder. */
  readonly #measured: boolean;

  constructor(
    private readonly inner: StorageBackend,
    private readonly limits: UserLimits,
    private readonly ctx: LimitsContext,
  ) {
    this.features = inner.features;
    if (inner.setModified) this.setModified = inner.setModified.bind(inner);
    if (inner.chmod) this.chmod = inner.chmod.bind(inner);
    if (inner.uniqueName) this.uniqueName = inner.uniqueName.bind(inner);
    if (inner.checkRoot) this.checkRoot = inner.checkRoot.bind(inner);
    this.#quota = ctx.usage !== undefined && Boolean(limits.quotaSize || limits.quotaFiles);
    this.#measured = this.#quota || sharing(limits, ctx);
    // Set now, so that a changed rate also paces the transfers already running.
    ctx.rates.bucket(limits.username, 'upload', limits.uploadRate);
    ctx.rates.bucket(limits.username, 'download', limits.downloadRate);
  }

  stat(p: VPath, c: StorageContext): Promise<FileStat> {
    return this.inner.stat(p, c);
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    return this.inner.list(dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    const src = await this.inner.openRead(p, o, c);
    if (!this.limits.downloadRate) return src;
    return chain(src, [new Throttle(this.#bucket('download'))]);
  }

  write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    return this.#write(p, src, o, c, (body) => this.inner.write(p, body, o, c));
  }

  /**
   * The inner storage's check and the quota's, before the data flows: a refusal then uses no data
   * connection (one reset unread makes lftp retry the upload). The quota is checked again, as the
   * bytes arrive, once the write begins.
   */
  async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    await this.#refuseEarly(p, o, c);
    const prepared = await prepareWrite(this.inner, p, o, c);
    return preparedBy(
      async (src, c2) => {
        try {
          return await this.#write(p, src, o, c2, (body) => prepared.write(body, c2));
        } finally {
          await prepared.release(); // refused by a quota before the inner write began
        }
      },
      () => prepared.release(),
    );
  }

  /** Throws 552 where an upload to `p` would be over a quota before its first byte. */
  async #refuseEarly(p: VPath, o: { offset: number; append: boolean }, c: StorageContext): Promise<void> {
    const book = this.ctx.usage;
    if (!this.#quota || !book) return;
    let total: Usage;
    if (book.ledger.charge) {
      const recorded = await this.#usage(c).catch(() => undefined); // away: the write decides
      if (!recorded) return;
      total = { ...recorded };
    } else {
      const flight = await this.#flight(book, c);
      total = flight.total();
      flight.end();
    }
    const start = startGrowth(await this.#sizeOf(p, c), o);
    checkStart({ bytes: total.bytes + start.bytes, files: total.files + start.files }, start, this.limits);
  }

  /** `put` is the inner storage's write of `p`. */
  async #write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    put: Put,
  ): Promise<{ bytes: number }> {
    const stages: Transform[] = [];
    let flight: Flight | undefined;
    let before: number | undefined;
    let cap: QuotaCap | undefined;
    const book = this.ctx.usage;
    if (this.#quota && book?.ledger.charge) return this.#writeShared(p, src, o, c, put);
    if (this.#quota && book) {
      flight = await this.#flight(book, c);
      try {
        before = await this.#sizeOf(p, c);
        const start = startGrowth(before, o);
        flight.grow(start);
        checkStart(flight.total(), start, this.limits);
        const { quotaSize } = this.limits;
        if (quotaSize) {
          const f = flight;
          cap = new QuotaCap((n) => {
            f.grow({ bytes: n, files: 0 });
            if (f.total().bytes <= quotaSize) return true;
            f.end(); // at once: a concurrent upload must not be refused for these bytes too
            return false;
          });
          stages.push(cap);
        }
      } catch (err) {
        flight.end();
        throw err;
      }
    } else if (this.#measured) before = await this.#sizeOf(p, c);
    this.#paceUpload(src, stages);
    const settle = async (expected: number | undefined): Promise<void> => {
      if (!this.#measured) return;
      const delta = await this.#changed(p, c, before, expected);
      if (flight) {
        await this.#report(delta); // in flight until recorded: an upload starting now counts it
        flight.end(delta);
      }
      await this.#share(p, delta);
    };
    let r: { bytes: number };
    try {
      r = await put(stages.length > 0 ? chain(src, stages, { wholeChunks: whole(stages) }) : src);
    } catch (err) {
      await settle(before);
      throw overQuota(cap, this.limits) ?? err;
    }
    await settle(keptOf(before, o) + r.bytes);
    return r;
  }

  /**
   * An upload against a ledger shared by several nodes: the growth is charged to it atomically as
   * the bytes arrive (SharedQuotaCap), and set right to what the file finally changed at the end.
   */
  async #writeShared(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    put: Put,
  ): Promise<{ bytes: number }> {
    const ledger = (this.ctx.usage as QuotaBook).ledger;
    const charge = ledger.charge?.bind(ledger) as NonNullable<typeof ledger.charge>;
    const { username, quotaSize, quotaFiles } = this.limits;
    const limit = {
      ...(quotaSize ? { bytes: quotaSize } : {}),
      ...(quotaFiles ? { files: quotaFiles } : {}),
    };
    await this.#usage(c).catch(() => undefined); // counted once (a scan) when there is no record
    const before = await this.#sizeOf(p, c);
    /** What this upload has charged to the ledger so far. */
    const held: Usage = { bytes: 0, files: 0 };
    /** Charges `d`; when refused, what is held was given back in the same step. */
    const hold = async (d: Usage): Promise<boolean> => {
      try {
        if (!(await charge(username, d, limit, { ...held }))) {
          held.bytes = 0;
          held.files = 0;
          return false;
        }
      } catch {
        // Not charged (a ledger away keeps the charge itself and says yes): counted now, written later.
        await this.#report(d);
      }
      held.bytes += d.bytes;
      held.files += d.files;
      return true;
    };
    /** Reports `actual` (what the file changed) in place of what is held. */
    const settle = async (actual: Usage): Promise<void> => {
      const rest = { bytes: actual.bytes - held.bytes, files: actual.files - held.files };
      held.bytes = 0;
      held.files = 0;
      await this.#report(rest);
    };
    // The new file, and what an overwrite frees (only the files can be over the quota).
    const start = startGrowth(before, o);
    if ((start.bytes || start.files) && !(await hold(start))) throw quotaExceeded('files', quotaFiles);
    // A refused batch gives back what the upload held at once (in the charge that refused it), not
    // once the rest is drained: a concurrent upload must not be refused for these bytes too. The
    // file stays as it was.
    const cap = new SharedQuotaCap((n) => hold({ bytes: n, files: 0 }));
    const stages: Transform[] = [];
    if (quotaSize) stages.push(cap);
    this.#paceUpload(src, stages);
    let r: { bytes: number };
    try {
      r = await put(stages.length > 0 ? chain(src, stages, { wholeChunks: whole(stages) }) : src);
    } catch (err) {
      await this.#settled(p, await this.#changed(p, c, before, before), settle);
      throw overQuota(cap, this.limits) ?? err;
    }
    await this.#settled(p, await this.#changed(p, c, before, keptOf(before, o) + r.bytes), settle);
    return r;
  }

  /** The end of a shared-ledger upload: `actual` replaces what it held, and reaches the sharers. */
  async #settled(p: VPath, actual: Usage, settle: (actual: Usage) => Promise<void>): Promise<void> {
    await settle(actual);
    await this.#share(p, actual);
  }

  mkdir(p: VPath, c: StorageContext): Promise<void> {
    return this.inner.mkdir(p, c);
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    // A size unknown frees nothing (the remove most likely fails the same way).
    const size = this.#measured ? await this.#sizeOf(p, c).catch(() => undefined) : undefined;
    await this.inner.remove(p, c);
    if (size !== undefined) await this.#freed(p, size);
  }

  /** Only an empty directory is removed (upload temp files are not counted): usage stays. */
  removeDir(p: VPath, c: StorageContext): Promise<void> {
    return this.inner.removeDir(p, c);
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    // A file replaced by the rename is freed. (Renames never cross folders: a folder's sharers see
    // the file moved inside it, so their totals stay.)
    const replaced =
      this.#measured && from !== to ? await this.#sizeOf(to, c).catch(() => undefined) : undefined;
    await this.inner.rename(from, to, c);
    if (replaced !== undefined) await this.#freed(to, replaced);
  }

  /**
   * An upload paced at its source where it can be (the data connection read at the rate: what Ferry
   * holds is one read), else through a Throttle stage (which the source reads ahead of).
   */
  #paceUpload(src: Readable, stages: Transform[]): void {
    if (!this.limits.uploadRate) return;
    if (isPaceable(src)) src.pace(this.#bucket('upload'));
    else stages.push(new Throttle(this.#bucket('upload')));
  }

  #bucket(direction: 'upload' | 'download') {
    const rate = direction === 'upload' ? this.limits.uploadRate : this.limits.downloadRate;
    return this.ctx.rates.bucket(this.limits.username, direction, rate);
  }

  /** An upload of the user's; the first reads the usage (a scan), whose steps those waiting see. */
  #flight(book: QuotaBook, c: StorageContext): Promise<Flight> {
    return book.start(this.limits.username, (step) => this.#usage({ ...c, progress: step }), c.progress);
  }

  /** The recorded usage; the first time, counted by a scan of the whole home. */
  async #usage(c: StorageContext): Promise<Usage> {
    const ledger = (this.ctx.usage as QuotaBook).ledger;
    const known = await ledger.get(this.limits.username);
    return known ?? ledger.init(this.limits.username, await scanUsage(this.inner, c));
  }

  async #freed(p: VPath, bytes: number): Promise<void> {
    const delta = { bytes: -bytes, files: -1 };
    if (this.#quota) {
      this.ctx.usage?.adjust(this.limits.username, delta);
      await this.#report(delta);
    }
    await this.#share(p, delta);
  }

  /**
   * `delta`, made at `p`, also changes the usage of every other account whose tree shows `p` (a
   * folder counts in full for each account sharing it), in this process's uploads in flight too.
   */
  async #share(p: VPath, delta: Usage): Promise<void> {
    const { sharers, usage } = this.ctx;
    if (!sharers || !usage || (delta.bytes === 0 && delta.files === 0)) return;
    let others: ReadonlyMap<string, number>;
    try {
      others = await sharers(this.limits.username, p);
    } catch (err) {
      this.ctx.logger?.warn(
        { user: this.limits.username, path: p, err: (err as Error).message },
        "quota: the accounts sharing a folder are unknown: their usage misses a change ('ferry users rescan' counts it)",
      );
      return;
    }
    const adds = [...others].map(([name, times]) => {
      const d = { bytes: delta.bytes * times, files: delta.files * times };
      usage.adjust(name, d);
      return usage.ledger.add(name, d); // together: usage.json writes them at once
    });
    await Promise.all(adds);
  }

  /** The ledger keeps what it cannot write yet, counted, and retries it (its add never fails). */
  async #report(delta: Usage): Promise<void> {
    await this.ctx.usage?.ledger.add(this.limits.username, delta);
  }

  /** The size of the regular file at `p`, or undefined when there is none; throws when unknown. */
  async #sizeOf(p: VPath, c: StorageContext): Promise<number | undefined> {
    try {
      const st = await this.inner.stat(p, c);
      return st.type === 'file' ? st.size : undefined;
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw err;
    }
  }

  /**
   * What an upload changed at `p` (a file of `before` bytes at its start), from the file's size at
   * its end. Asked with a signal of its own: the session's is often what ended the upload (the
   * client gone, ABOR). Where the storage cannot tell, `expected` is taken: what the upload's end
   * implies (an upload replaces the file whole or not at all).
   */
  async #changed(
    p: VPath,
    c: StorageContext,
    before: number | undefined,
    expected: number | undefined,
  ): Promise<Usage> {
    let after = expected;
    try {
      after = await this.#sizeOf(p, { ...c, signal: AbortSignal.timeout(SETTLE_MS) });
    } catch (err) {
      this.ctx.logger?.warn(
        { user: this.limits.username, path: p, size: after ?? null, err: (err as Error).message },
        'quota: the size of an uploaded file is unknown: counted as the upload left it',
      );
    }
    return {
      bytes: (after ?? 0) - (before ?? 0),
      files: (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1),
    };
  }
}

/** Changes the user makes may change others' usage: the user has folders, perhaps shared. */
function sharing(limits: UserLimits, ctx: LimitsContext): boolean {
  return ctx.usage !== undefined && ctx.sharers !== undefined && Object.keys(limits.folders ?? {}).length > 0;
}

/**
 * What an upload adds before its first byte, to a file of `before` bytes (undefined: a new file).
 * Only growth counts: an overwrite frees the old size, APPE and REST keep what they keep (a REST
 * beyond the end is the storage's to refuse, 554, not the quota's).
 */
function startGrowth(before: number | undefined, o: { offset: number; append: boolean }): Usage {
  return { bytes: keptOf(before, o) - (before ?? 0), files: before === undefined ? 1 : 0 };
}

/** What an upload keeps of a file of `before` bytes. */
function keptOf(before: number | undefined, o: { offset: number; append: boolean }): number {
  return o.append ? (before ?? 0) : Math.min(o.offset, before ?? 0);
}

/** Throws 552 where `total` (the usage with the upload's `start` growth in it) is over a quota. */
function checkStart(total: Usage, start: Usage, limits: UserLimits): void {
  if (start.files > 0 && limits.quotaFiles && total.files > limits.quotaFiles)
    throw quotaExceeded('files', limits.quotaFiles);
  if (limits.quotaSize && total.bytes > limits.quotaSize) throw quotaExceeded('bytes', limits.quotaSize);
}

/**
 * The reply of an upload that crossed the quota and then failed otherwise (the client hung up or
 * aborted while its bytes were being drained) is still 552: the quota is why it did not land.
 */
function overQuota(cap: QuotaCap | SharedQuotaCap | undefined, limits: UserLimits): Error | undefined {
  return cap?.exceeded ? quotaExceeded('bytes', limits.quotaSize) : undefined;
}

/** Quota caps pass chunks on unchanged; a throttle slices them (see chain). */
function whole(stages: readonly Transform[]): boolean {
  return stages.every((s) => s instanceof QuotaCap || s instanceof SharedQuotaCap);
}
