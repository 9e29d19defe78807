// Whether a storage tree lies on local filesystems only, from /proc/self/mountinfo: the synchronous
// fast path of meta-fs.ts and listing-stat.ts is safe only where no call can wait on a remote party
// (an NFS server, a FUSE daemon), since a hung synchronous call freezes the whole process.
import { readFileSync } from 'node:fs';

/**
 * Filesystems whose calls only wait for local disks or memory. Anything else (nfs, cifs, fuse.*,
 * fuseblk, ceph, 9p, autofs, unknown types) may hang; so may proc (reading another process's files
 * waits on its memory map, held by a thread stuck in a hung filesystem).
 */
const LOCAL_TYPES: ReadonlySet<string> = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'tmpfs',
  'ramfs',
  'zfs',
  'f2fs',
  'overlay',
  'vfat',
  'msdos',
  'exfat',
  'ntfs3',
  'bcachefs',
  'squashfs',
  'erofs',
  'iso9660',
  'udf',
  'jfs',
  'reiserfs',
  'nilfs2',
]);

export interface MountEntry {
  /** Where it is mounted, unescaped (as a path). */
  readonly mountPoint: string;
  readonly fsType: string;
}

/**
 * The mounts of a mountinfo text (proc(5): `id parent major:minor root mountpoint options
 * [optional fields...] - fstype source superoptions`, with space, tab, newline and backslash in
 * paths written as \ooo). Undefined if a line does not read so: the caller cannot judge then.
 */
export function parseMountInfo(text: string): MountEntry[] | undefined {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[dash + 1];
    if (dash < 0 || mountPoint === undefined || fsType === undefined || fsType === '') return undefined;
    mounts.push({ mountPoint: unescapeOctal(mountPoint), fsType: unescapeOctal(fsType) });
  }
  return mounts;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Whether the filesystem holding `rootReal` (a real path) and every mount below it are of local
 * types. Stacked mounts at the holding mount point must all be local (which one is on top is not
 * judged from the order of the lines).
 */
export function onLocalFilesystems(rootReal: string, mounts: readonly MountEntry[]): boolean {
  let holding: string | undefined;
  for (const m of mounts) {
    if (isWithin(rootReal, m.mountPoint) && (holding === undefined || m.mountPoint.length > holding.length))
      holding = m.mountPoint;
  }
  if (holding === undefined) return false;
  return mounts.every(
    (m) => LOCAL_TYPES.has(m.fsType) || (m.mountPoint !== holding && !isWithin(m.mountPoint, rootReal)),
  );
}

/** `path` is `dir` or below it (both absolute, without a trailing '/' but for '/'). */
function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/**
 * The mount whose calls a tree not all on local filesystems is counted under in the thread pool's
 * budget (pool-budget.ts): the one holding `rootReal` if that is not local, else the first mount
 * below it that is not (a tree with several is counted as one). Undefined: all local.
 */
export function remoteMountOf(rootReal: string, mounts: readonly MountEntry[]): string | undefined {
  if (onLocalFilesystems(rootReal, mounts)) return undefined;
  let holding: MountEntry | undefined;
  for (const m of mounts) {
    if (
      isWithin(rootReal, m.mountPoint) &&
      (holding === undefined || m.mountPoint.length > holding.mountPoint.length)
    )
      holding = m;
  }
  if (holding === undefined || !LOCAL_TYPES.has(holding.fsType)) return holding?.mountPoint ?? rootReal;
  return (
    mounts.find((m) => !LOCAL_TYPES.has(m.fsType) && isWithin(m.mountPoint, rootReal))?.mountPoint ?? rootReal
  );
}

/**
 * remoteMountOf `rootReal` by this process's mounts, read now (procfs: microseconds, and the mounts
 * may have changed since the last storage). Without /proc (or unreadable): not local, `rootReal`
 * itself.
 */
export function remoteMount(rootReal: string): string | undefined {
  const text = readMountInfo();
  return text === undefined ? rootReal : judged(text, rootReal);
}

function readMountInfo(): string | undefined {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
}

function judged(text: string, rootReal: string): string | undefined {
  const mounts = parseMountInfo(text);
  return mounts === undefined ? rootReal : remoteMountOf(rootReal, mounts);
}

/** Paths a MountTable keeps its verdicts for (then it starts again). */
const MAX_VERDICTS = 1024;

/**
 * How long a MountTable judges by the mounts it read last. Reading /proc/self/mountinfo makes the
 * kernel print every mount (~2.5 % of a worker's CPU under a login flood here, more on hosts with
 * hundreds of mounts); a mount made meanwhile is seen this much later, no more: a session already
 * keeps the verdict of its start for its whole life.
 */
export const MOUNTS_FRESH_MS = 100;

/**
 * remoteMount for all the storages of a process (one per process, shared as the pool budget is):
 * the mounts are read again when the last reading is MOUNTS_FRESH_MS old, as they may have changed
 * since, and what a text says of a path is judged once, while the text stays the same (parsing and
 * judging it cost a login ~30 of its ~75 µs here).
 */
export class MountTable {
  #text: string | undefined;
  #readAt = -Infinity;
  readonly #verdicts = new Map<string, string | undefined>();

  constructor(
    private readonly now: () => number = performance.now.bind(performance),
    private readonly read: () => string | undefined = readMountInfo,
  ) {}

  remoteMount(rootReal: string): string | undefined {
    const text = this.mounts();
    if (text === undefined) return rootReal;
    if (this.#verdicts.has(rootReal)) return this.#verdicts.get(rootReal);
    if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
    const verdict = judged(text, rootReal);
    this.#verdicts.set(rootReal, verdict);
    return verdict;
  }

  /** The mounts as read last, read again once MOUNTS_FRESH_MS old (undefined: unreadable now). */
  private mounts(): string | undefined {
    const now = this.now();
    if (this.#text !== undefined && now - this.#readAt < MOUNTS_FRESH_MS) return this.#text;
    const text = this.read();
    if (text === undefined) return undefined;
    this.#readAt = now;
    if (text !== this.#text) {
      this.#text = text;
      this.#verdicts.clear();
    }
    return text;
  }
}

/** Whether the tree at `rootReal` lies on local filesystems only (remoteMount is undefined). */
export function isLocalTree(rootReal: string): boolean {
  return remoteMount(rootReal) === undefined;
}
