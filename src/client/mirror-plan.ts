/**
 * Planning a mirror (mirror.ts): which source files the destination lacks or holds in another
 * version, from the two listings, and what the listing cannot tell asked of the server (the time to
 * the second, a checksum, whether a smaller destination file is a cut transfer of the source).
 */
import { ReplyError } from '../errors.js';
import { checksumMethod, localChecksum } from './checksum.js';
import { isTransient } from './errors.js';
import { mayAskMdtm, NO_MDTM, sameSize, timeUndecided } from './mirror-compare.js';
import { CONTINUED, cutAfterSource, NOT_CONTINUED, smallerPart, tailRange } from './mirror-continue.js';
import type { MirrorModes } from './mirror-modes.js';
import type { MirrorRun } from './mirror-run.js';
import { isUnder, type Item } from './mirror-trees.js';
import { runPool } from './pool.js';
import { readLocalRange, readRemoteRange } from './remote-range.js';

/** A file to transfer; `partial`: the destination has its first bytes (continue). */
export interface Job {
  readonly rel: string;
  readonly item: Item;
  readonly partial: boolean;
}

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

export interface Plan {
  readonly jobs: Job[];
  /** With `verify`: the server's checksum command, undefined when it offers none. */
  readonly checksum: string | undefined;
}

/**
 * The files to transfer, in the source's order; the others are counted and told (`unchanged`,
 * `skip`, a type conflict), and an unchanged file's mode is set where it differs (`modes`).
 */
export async function planFiles(run: MirrorRun, modes: MirrorModes): Promise<Plan> {
  /**
   * A same-size file whose listed time (LIST's minute, vsftpd's day) cannot tell it from one changed
   * since the last mirror: the remote time to the second (MDTM) decides; a server that does not
   * tell it has the file sent (the safe side).
   */
  let noMdtmSaid = false;
  /** Said once per run (at the first such file): otherwise every run re-sends them silently. */
  const noMdtm = (rel: string): false => {
    if (!noMdtmSaid) run.emit({ kind: 'note', path: rel, message: NO_MDTM });
    noMdtmSaid = true;
    return false;
  };
  const exactTimesAgree = async (rel: string, item: Item, other: Item): Promise<boolean> => {
    if (!mayAskMdtm((await run.conn.live()).features)) return noMdtm(rel);
    const t = times.has(rel)
      ? times.get(rel)
      : await run.conn.run((client) => client.modified(run.remotePath(rel)), run.stepRetry(rel));
    if (t === undefined) return noMdtm(rel);
    const exact: Item = { ...(run.upload ? other : item), mtime: t.getTime(), precision: 1000 };
    return run.upload ? !needsTransfer(item, exact) : !needsTransfer(exact, other);
  };
  /**
   * For an upload to a server with a checksum: whether the remote file is the local file's start
   * (undefined: no checksum to tell, or the server refused it).
   */
  const remoteIsStart = async (rel: string, other: Item): Promise<boolean | undefined> => {
    if (!run.upload || checksumMethod((await run.conn.live()).features) === undefined) return undefined;
    const remote = await run.conn
      .run(
        (client) => client.checksum(run.remotePath(rel), { size: other.size ?? undefined }),
        run.stepRetry(rel),
      )
      .catch((err: unknown) => {
        if (err instanceof ReplyError) return undefined;
        throw err;
      });
    if (!remote) return undefined;
    return remote.hex === (await localChecksum(run.localPath(rel), remote.algorithm, other.size ?? 0));
  };
  /**
   * Whether the destination's last bytes (the remote file's for an upload, the local one's for a
   * download) are the source's at the same offsets: the local file's range against the remote's.
   * A server refusing the read says so, and the file is sent whole.
   */
  const tailsAgree = async (rel: string, dstSize: number): Promise<boolean> => {
    const { start, length } = tailRange(dstSize);
    const remote = await run.conn
      .run(
        (client) => readRemoteRange(client, run.remotePath(rel), start, length, run.o.signal),
        run.stepRetry(rel),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ReplyError)) throw err;
        run.emit({ kind: 'note', path: rel, message: `not continued (-c): ${err.message}: sent whole` });
        return undefined;
      });
    if (remote === undefined) return false;
    const local = await readLocalRange(run.localPath(rel), start, length);
    if (remote.length === length && remote.equals(local)) return true;
    run.emit({ kind: 'note', path: rel, message: NOT_CONTINUED.tail });
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
      run.emit({
        kind: 'note',
        path: rel,
        message: start === false ? NOT_CONTINUED.prefix : NOT_CONTINUED.time,
      });
      return false;
    }
    if (start === undefined && !(await tailsAgree(rel, other.size))) return false;
    run.emit({ kind: 'note', path: rel, message: start ? CONTINUED.prefix : CONTINUED.tail });
    return true;
  };

  // Files to transfer.
  const jobs: Job[] = [];
  const checksum = run.o.verify ? checksumMethod(run.conn.client.features) : undefined;
  const canVerify = checksum !== undefined;
  // The undecided files' remote times, asked at once first; one missing is asked as it comes.
  const times = canVerify || run.o.sizeOnly ? new Map<string, Date | undefined>() : await remoteTimes(run);
  for (const [rel, item] of run.src) {
    if (isUnder(rel, run.skippedTrees)) continue;
    if (item.type === 'link') {
      run.skip(rel, 'symbolic link');
      continue;
    }
    if (item.type !== 'file') continue;
    const existing = run.dst.get(rel);
    if (existing && existing.type !== 'file') {
      if (!run.o.delete || run.holdsLeftOut(rel)) {
        run.conflict(rel, existing, 'file');
        continue;
      }
      await run.removeDst(rel, existing);
    }
    const other = run.dst.get(rel);
    let same = !needsTransfer(item, other);
    if (run.o.sizeOnly && other?.type === 'file') same = sameSize(item, other) ?? same;
    let byChecksum = false;
    if (canVerify && other?.type === 'file' && other.size === item.size) {
      run.verified++;
      // Cut by a lost connection (a server restarting), it is asked again, as a listing would be.
      await run.conn.live();
      const remote = await run.conn
        .run(
          (client) => client.checksum(run.remotePath(rel), { size: item.size ?? undefined }),
          run.stepRetry(rel),
        )
        .catch(run.refusedChecksum(rel));
      if (remote) {
        byChecksum = true;
        run.verifiedBy = remote.algorithm;
        same = remote.hex === (await localChecksum(run.localPath(rel), remote.algorithm));
      }
    }
    if (same && !byChecksum && !run.o.sizeOnly && other?.type === 'file' && timeUndecided(item, other))
      same = await exactTimesAgree(rel, item, other);
    if (same) {
      run.skipped++;
      run.unchanged++;
      run.emit({ kind: 'unchanged', path: rel });
      if (other?.type === 'file') await modes.keepMode(rel, item, other);
      continue;
    }
    // Its bytes stand for the source's first ones: only the rest travels.
    const partial =
      (run.o.continue ?? false) && other?.type === 'file' && (await continues(rel, item, other));
    jobs.push({ rel, item, partial });
    run.files.push(rel);
  }
  return { jobs, checksum };
}

/**
 * Fewer undecided files are asked one by one: a wave of new connections costs about ten round
 * trips (TCP, TLS, login, FEAT, PBSZ and PROT, TYPE, PWD).
 */
const SPREAD_FROM = 16;

/**
 * The remote times (MDTM) of the same-size files whose listed times cannot tell them from a changed
 * one (LIST's minute: vsftpd), asked over the `parallel` connections at once, not one after the
 * other over the mirror's own: a round trip each, thousands on an unchanged site. Those not
 * answered here (a lost connection) are asked again one by one as the plan reaches them.
 */
async function remoteTimes(run: MirrorRun): Promise<Map<string, Date | undefined>> {
  const times = new Map<string, Date | undefined>();
  const undecided: string[] = [];
  for (const [rel, item] of run.src) {
    const other = run.dst.get(rel);
    if (item.type !== 'file' || other?.type !== 'file' || isUnder(rel, run.skippedTrees)) continue;
    if (!needsTransfer(item, other) && timeUndecided(item, other)) undecided.push(rel);
  }
  const client = await run.conn.live();
  if (undecided.length < SPREAD_FROM || !mayAskMdtm(client.features)) return times;
  const opened = await run.openConnections();
  if (opened.length === 0) return times;
  const retries = run.o.retries ?? 0;
  await runPool(
    client,
    undecided,
    {
      parallel: opened.length + 1,
      connect: run.o.connect,
      opened,
      signal: run.o.signal,
      keepGoing: true,
      retries,
      transient: isTransient,
      onRetry: (rel, retry, error) => run.emit({ kind: 'retry', path: rel, retry, retries, error }),
      onReconnect: (r) => run.emit({ kind: 'reconnect', path: '', ...r }),
    },
    async (worker, rel) => {
      times.set(rel, await worker.modified(run.remotePath(rel)));
    },
  );
  return times;
}
