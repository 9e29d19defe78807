import {
  close as closeCb,
  closeSync,
  fstat as fstatCb,
  fstatSync,
  lstat as lstatCb,
  lstatSync,
  open as openCb,
  openSync,
  readSync,
  readlink as readlinkCb,
  readlinkSync,
  realpath as realpathCb,
  realpathSync,
  rename as renameCb,
  renameSync,
  type Stats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * A call slower than this, SLOW_IN_A_ROW times in a row, means the filesystem is not local (or the
 * disk is cold). Fewer are not enough: on a busy machine the thread is often preempted for a few
 * milliseconds in the middle of a microsecond call (at a load of 15 on 2 cores, twice in a row
 * every few seconds, which kept a small-file download in the thread pool most of the time), and
 * the thread pool then costs every request far more (a dozen futex calls and two thread wake-ups
 * per call, each waiting for a core on that same busy machine).
 */
const SLOW_MS = 1;
const SLOW_IN_A_ROW = 4;
/** Calls this slow are no preemption (unless the machine is overloaded): fewer in a row suffice. */
const VERY_SLOW_MS = 50;
const VERY_SLOW_IN_A_ROW = 2;
/** After a slow call, the asynchronous API for this long before trying the fast path again. */
const ASYNC_FOR_MS = 10_000;

const openAsync = promisify(openCb);
const fstatAsync = promisify(fstatCb);
const closeAsync = promisify(closeCb);
const readlinkAsync = promisify(readlinkCb);
const realpathAsync = promisify(realpathCb.native);
const lstatAsync = promisify(lstatCb);
const renameAsync = promisify(renameCb);

/**
 * The metadata system calls of one LocalStorage (realpath, open, readlink, fstat, close). On a
 * local disk each takes microseconds, while a round trip through libuv's thread pool costs a
 * fraction of a millisecond of latency, and a small RETR makes a dozen: on local filesystems they
 * run synchronously while they stay fast. Slow calls (a cold disk) send this storage to the
 * asynchronous API for a while, so the event loop is never held up for long. A tree with a network
 * or FUSE filesystem in it is never served synchronously: a call there can hang for good, and a
 * synchronous one would freeze every session of the process (local-filesystems.ts).
 */
export class MetaFs {
  #asyncUntil = 0;
  #slowInARow = 0;
  #verySlowInARow = 0;

  /**
   * `synchronous`: whether the fast path may be taken at all (false: the thread pool always).
   * `slowMs`: what counts as a slow call (tests pass -1 to leave the fast path after four calls).
   */
  constructor(
    readonly synchronous: boolean,
    private readonly slowMs = SLOW_MS,
  ) {}

  /** Whether calls go through the thread pool now (always, or after slow ones). */
  get asynchronous(): boolean {
    return !this.synchronous || performance.now() < this.#asyncUntil;
  }

  realpath(path: string): Promise<string> {
    return this.#run(
      () => realpathSync.native(path),
      () => realpathAsync(path),
    );
  }

  open(path: string, flags: number, mode?: number): Promise<number> {
    return this.#run(
      () => openSync(path, flags, mode),
      () => openAsync(path, flags, mode),
    );
  }

  fstat(fd: number): Promise<Stats> {
    return this.#run(
      () => fstatSync(fd),
      () => fstatAsync(fd),
    );
  }

  readlink(path: string): Promise<string> {
    return this.#run(
      () => readlinkSync(path),
      () => readlinkAsync(path),
    );
  }

  close(fd: number): Promise<void> {
    return this.#run(
      () => closeSync(fd),
      () => closeAsync(fd),
    );
  }

  /**
   * Closes through the thread pool always: the last descriptor of a file that was replaced or
   * removed frees the file's blocks in close(2), about 0.3 s for 1 GiB on ext4, which would hold
   * up every other session.
   */
  closeFreeing(fd: number): Promise<void> {
    return closeAsync(fd);
  }

  /**
   * Up to `length` bytes of the file at `path` from `position` (fewer at its end), for downloads
   * small enough that one read beats a stream's thread-pool round trips.
   */
  readSmall(path: string, flags: number, position: number, length: number): Promise<Buffer> {
    return this.#run(
      () => {
        const fd = openSync(path, flags);
        try {
          const buf = Buffer.allocUnsafe(length);
          let got = 0;
          for (let n = -1; got < length && n !== 0; got += n)
            n = readSync(fd, buf, got, length - got, position + got);
          return buf.subarray(0, got);
        } finally {
          closeSync(fd);
        }
      },
      async () => {
        const fh = await open(path, flags);
        try {
          const buf = Buffer.allocUnsafe(length);
          let got = 0;
          for (let n = -1; got < length && n !== 0; got += n)
            ({ bytesRead: n } = await fh.read(buf, got, length - got, position + got));
          return buf.subarray(0, got);
        } finally {
          await fh.close();
        }
      },
    );
  }

  /**
   * Renames `from` to `to` only if `ok` accepts what `to` is now (its lstat; undefined if absent),
   * and says whether it did. While calls are fast (on local filesystems), the check and the rename
   * run synchronously, one right after the other: nothing else in this process can act between them.
   */
  renameIf(from: string, to: string, ok: (now: Stats | undefined) => boolean): Promise<boolean> {
    return this.#run(
      () => {
        if (!ok(lstatSync(to, { throwIfNoEntry: false }))) return false;
        renameSync(from, to);
        return true;
      },
      async () => {
        if (!ok(await lstatAsync(to).catch(absentAsUndefined))) return false;
        await renameAsync(from, to);
        return true;
      },
    );
  }

  #run<T>(sync: () => T, async: () => Promise<T>): Promise<T> {
    if (!this.synchronous) return async();
    const start = performance.now();
    if (start < this.#asyncUntil) return async();
    try {
      return Promise.resolve(sync());
    } catch (err) {
      return Promise.reject(err as Error);
    } finally {
      const end = performance.now();
      const took = end - start;
      this.#slowInARow = took > this.slowMs ? this.#slowInARow + 1 : 0;
      this.#verySlowInARow = took > Math.max(this.slowMs, VERY_SLOW_MS) ? this.#verySlowInARow + 1 : 0;
      if (this.#slowInARow >= SLOW_IN_A_ROW || this.#verySlowInARow >= VERY_SLOW_IN_A_ROW) {
        this.#asyncUntil = end + ASYNC_FOR_MS;
        this.#slowInARow = 0;
        this.#verySlowInARow = 0;
      }
    }
  }
}

function absentAsUndefined(err: unknown): undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT') return undefined;
  throw err;
}
