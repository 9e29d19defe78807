import { constants } from 'node:fs';
import { lstat, open, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { makeDirectory } from './auth/file-owner.js';
import { FerryError } from './errors.js';

export interface FileLockOptions {
  /** How long to wait for another holder before ERR_BUSY (ms): 10 s, or Infinity for background writes. */
  waitMs?: number;
  /** Told when a lock its dead holder left is taken over. Default: a line on stderr. */
  onTakeover?: (message: string) => void;
}

/**
 * Runs `fn` holding `<file>.lock` (created exclusively, naming its holder: "PID HOST"; waits for
 * another holder up to `waitMs`), so that processes editing `file` at once do not lose each other's
 * change. A lock whose holder is a dead process of this host is taken at once; any other lock older
 * than 60 s (a holder elsewhere, or one killed before it wrote its PID) is stale.
 */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = `${file}.lock`;
  await makeDirectory(path.dirname(path.resolve(file)));
  const held = await acquire(lock, options);
  try {
    return await fn();
  } finally {
    await held.close();
    await unlink(lock).catch(() => {});
  }
}

const HOLDER = `${process.pid} ${hostname()}\n`;

async function acquire(lock: string, o: FileLockOptions) {
  const deadline = Date.now() + (o.waitMs ?? 10_000);
  for (;;) {
    try {
      // Readable by all: it names its holder, for a process of another user (root's `ferry users`).
      const held = await open(lock, 'wx', 0o644);
      // Held even unnamed (a full disk): others then wait for it as for one of another host.
      await held.writeFile(HOLDER).catch(() => {});
      return held;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await holderOf(lock);
    const st = await lstat(lock).catch(() => undefined);
    const dead = holder === undefined ? undefined : deadHolder(holder);
    if (dead !== undefined || (st && Date.now() - st.mtimeMs > 60_000)) {
      if (await removeIfStill(lock, holder)) {
        if (dead !== undefined) {
          const told = `${lock}: taken over from process ${dead}, which died holding it.`;
          (o.onTakeover ?? ((m) => process.stderr.write(`${m}\n`)))(told);
        }
        continue;
      }
    } else if (Date.now() > deadline) {
      const by = holder?.trim() ? ` (held by process ${holder.trim()})` : '';
      throw new FerryError('ERR_BUSY', `${lock} exists: another process holds it${by} (or remove it).`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Removes the stale `lock` if it still names `holder`. Contenders do so one at a time (holding
 * `<lock>.takeover`), so that one that saw the same stale lock does not remove the new holder's.
 */
async function removeIfStill(lock: string, holder: string | undefined): Promise<boolean> {
  const guard = `${lock}.takeover`;
  let held;
  try {
    held = await open(guard, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another is taking it over; its guard is left only by a death in these few milliseconds.
    const st = await lstat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 60_000) await unlink(guard).catch(() => {});
    return false;
  }
  try {
    if ((await holderOf(lock)) !== holder) return false;
    await unlink(lock).catch(() => {});
    return true;
  } finally {
    await held.close();
    await unlink(guard).catch(() => {});
  }
}

/**
 * What the lock file names, read without following a link and at most 64 bytes, from a regular file
 * only: the directory may be the run-as user's, and a lock planted as a link to a FIFO, /dev/zero
 * or a secret must neither hang, exhaust nor leak into root's `ferry users`. Anything else: unnamed.
 */
async function holderOf(lock: string): Promise<string | undefined> {
  const fh = await open(lock, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    () => undefined,
  );
  if (fh === undefined) return undefined;
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The PID in `holder` ("PID HOST") when that process is gone from this host, else undefined. */
function deadHolder(holder: string): number | undefined {
  const [pid, host] = holder.trim().split(' ');
  const n = Number(pid);
  if (host !== hostname() || !Number.isInteger(n) || n <= 0) return undefined;
  try {
    process.kill(n, 0);
    return undefined; // alive
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? n : undefined; // EPERM: alive, another user's
  }
}
