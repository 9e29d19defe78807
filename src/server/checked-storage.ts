import type { Readable } from 'node:stream';
import type { Principal } from '../auth/types.js';
import { byteCheck } from '../byte-chunks.js';
import { chain } from '../storage/stream-chain.js';
import type {
  FileSource,
  FileStat,
  PreparedWrite,
  StorageBackend,
  StorageContext,
  VPath,
} from '../storage/types.js';
import { isAllowedName } from '../storage/virtual-path.js';
import { isSize, shown, statFault, STORAGE_METHODS, storageFault } from './embedder-values.js';
import { OptionError, type ResolvedOptions } from './options.js';

const STORAGE = `features, a Set of its StorageFeatures, and the functions ${STORAGE_METHODS.join(', ')}`;
const FILE_STAT = 'a FileStat has type, name, size a whole number ≥ 0, modified a valid Date, mode a number';

/** `st`, unless it is malformed: then the storage's error (451 for the command, and a log line). */
function checkedStat(st: FileStat, what: string): FileStat {
  const fault = statFault(st);
  if (fault) throw new OptionError('storageFor', `its storage's ${what} gave ${fault} (${FILE_STAT}).`);
  return st;
}

/** Told of a storage result that is malformed but does not stop the command (a write's byte count). */
export type StorageWarn = (obj: object, msg: string) => void;

/**
 * The storage an embedder's storageFor made, what it gives checked where the server uses it (sizes
 * are printed: SIZE, MLSx, LIST, RETR's 150): per call, or per listed entry, a few typeof checks.
 * A write that read the upload to its end is taken as stored (226) whatever it resolved with: a
 * failed reply to a committed APPE would have the client send it again; a malformed count is only
 * logged. One that resolved before the upload's end did not store it, whatever it says (451).
 */
export function checkedStorage(s: StorageBackend, warn: StorageWarn): StorageBackend {
  const wrote = (p: VPath, src: Readable, r: { bytes: number }): { bytes: number } => {
    // Ended: the storage read it all (a stream ends only once read). A backend whose write forgot
    // the stream (an early return) was acknowledged with 226, and the file was never made.
    if (!src.readableEnded)
      throw new OptionError(
        'storageFor',
        `its storage's write(${p}) resolved before reading the upload to its end: not stored.`,
      );
    const bytes: unknown = (r as { bytes?: unknown } | null | undefined)?.bytes;
    if (!isSize(bytes)) {
      const got = r === null || typeof r !== 'object' ? shown(r) : `bytes ${shown(bytes)}`;
      warn({ path: p }, `options.storageFor: its storage's write() resolved ${got}, not { bytes: number }`);
    }
    return r;
  };
  const prepared = (p: VPath, w: PreparedWrite): PreparedWrite => ({
    write: async (src, c) => wrote(p, src, await w.write(src, c)),
    release: () => w.release(),
  });
  const prepareWrite = s.prepareWrite?.bind(s);
  const setModified = s.setModified?.bind(s);
  const chmod = s.chmod?.bind(s);
  const uniqueName = s.uniqueName?.bind(s);
  const checkRoot = s.checkRoot?.bind(s);
  return {
    get features() {
      return s.features;
    },
    stat: async (p, c) => checkedStat(await s.stat(p, c), `stat(${p})`),
    list: (dir, c) => checkedList(s.list(dir, c), dir, c),
    openRead: async (p, o, c) => {
      const src: FileSource = await s.openRead(p, o, c);
      if (!isReadable(src))
        throw new OptionError(
          'storageFor',
          `its storage's openRead(${p}) gave ${shown(src)}, not a Readable stream.`,
        );
      if (src.fileSize !== undefined && !isSize(src.fileSize)) {
        src.destroy();
        const got = `fileSize ${shown(src.fileSize)}`;
        throw new OptionError('storageFor', `its storage's openRead(${p}) gave ${got} (a whole number ≥ 0).`);
      }
      return bytesOf(src, p);
    },
    write: async (p, src, o, c) => wrote(p, src, await s.write(p, src, o, c)),
    ...(prepareWrite && { prepareWrite: async (p, o, c) => prepared(p, await prepareWrite(p, o, c)) }),
    mkdir: (p, c) => s.mkdir(p, c),
    remove: (p, c) => s.remove(p, c),
    removeDir: (p, c) => s.removeDir(p, c),
    rename: (from, to, c) => s.rename(from, to, c),
    ...(setModified && { setModified }),
    ...(chmod && { chmod }),
    ...(uniqueName && { uniqueName }),
    ...(checkRoot && { checkRoot }),
  };
}

/** Enough of a Node Readable for a transfer to pipe (a web ReadableStream, a Buffer or a string is not). */
function isReadable(v: unknown): v is Readable {
  const r = v as Partial<Readable> | null | undefined;
  return typeof r?.on === 'function' && typeof r.pipe === 'function' && typeof r.destroy === 'function';
}

/**
 * A read stream in object mode (`Readable.from([...])`), checked as it flows: a chunk that is not
 * bytes fails that transfer (451, logged) instead of the socket's write throwing uncaught.
 */
function bytesOf(src: FileSource, p: VPath): FileSource {
  const check = byteCheck(
    src,
    (what) => new OptionError('storageFor', `its storage's openRead(${p}) stream gave ${what}, not bytes.`),
  );
  if (!check) return src;
  const checked = chain(src, [check]);
  return src.fileSize === undefined ? checked : Object.assign(checked, { fileSize: src.fileSize });
}

/**
 * `dir`'s batches, each entry checked, without the names no client could address (an embedder's
 * storage may list `sl/ash`, `..`, a control character: acting on it would reach another entry, or
 * none). Ferry's own storages leave them out already; this is the one check every storage passes.
 */
async function* checkedList(
  batches: AsyncIterable<readonly FileStat[]>,
  dir: VPath,
  c: StorageContext,
): AsyncIterable<readonly FileStat[]> {
  for await (const batch of batches) {
    let unaddressable = 0;
    for (const st of batch) if (!isAllowedName(checkedStat(st, `list(${dir})`).name)) unaddressable++;
    // A batch all addressable (the usual) goes as the storage made it.
    if (unaddressable === 0) yield batch;
    else if (unaddressable < batch.length) yield batch.filter((st) => isAllowedName(st.name));
    // A batch with nothing left still moves: the command time limit must not cut the listing.
    else c.progress?.();
  }
}

/**
 * The embedder's storageFor, checked: one that returns no storage (a Promise: an async function), or
 * one without its methods or `features`, fails the login, saying why; the storage it returns is
 * checked as it is used (checkedStorage).
 */
export function checkedStorageFor(
  storageFor: ResolvedOptions['storageFor'],
  warn: (p: Principal) => StorageWarn,
): ResolvedOptions['storageFor'] {
  return (p) => {
    const s: unknown = storageFor(p);
    const fault = storageFault(s);
    if (fault === undefined) return checkedStorage(s as StorageBackend, warn(p));
    const should = s instanceof Promise ? ', synchronously' : ` (${STORAGE})`;
    throw new OptionError('storageFor', `returned ${fault}: it must return a StorageBackend${should}.`);
  };
}
