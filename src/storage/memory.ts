import { randomBytes } from 'node:crypto';
import { Readable, Writable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { abortedError, createdMeanwhile, storageError, throwIfAborted } from './fs-errors.js';
import { checkRestart, preparedBy } from './prepared-write.js';
import type {
  FileStat,
  PreparedWrite,
  StorageBackend,
  StorageContext,
  StorageFeature,
  VPath,
} from './types.js';
import {
  ROOT,
  assertVPath,
  baseName,
  childPathsOf,
  isDescendant,
  joinVPath,
  parentOf,
  resolveVPath,
  segmentsOf,
} from './virtual-path.js';

/** Entries per listing batch. */
const LIST_BATCH = 256;

export interface MemoryStorageOptions {
  readOnly?: boolean;
  /** Total bytes of file content allowed; writes beyond it fail with quota-exceeded. */
  maxBytes?: number;
  /**
   * The optional capabilities this storage offers (default: all). One left out is really absent:
   * the calls that need it fail with 'unsupported', and the server does not advertise it.
   */
  features?: readonly StorageFeature[];
  /** Initial files (virtual path → content); parent directories are created. */
  files?: Readonly<Record<string, string | Uint8Array>>;
}

interface MemFile {
  readonly kind: 'file';
  /** Never mutated: a write installs a new buffer, so open readers keep a consistent snapshot. */
  data: Buffer;
  modified: Date;
  mode: number;
}

interface MemDir {
  readonly kind: 'dir';
  readonly children: Map<string, MemNode>;
  modified: Date;
  mode: number;
}

type MemNode = MemFile | MemDir;

/** prepareWrite's mark on the options it passes to write(): was a file there then. */
const STARTED_ON_FILE = Symbol('startedOnFile');
type WriteOptions = { offset: number; append: boolean; [STARTED_ON_FILE]?: boolean };

const CHUNK = 256 * 1024;

const FEATURES: ReadonlySet<StorageFeature> = new Set<StorageFeature>([
  'restart-read',
  'restart-write',
  'append',
  'set-modified',
  'chmod',
]);

function newDir(): MemDir {
  return { kind: 'dir', children: new Map(), modified: new Date(), mode: 0o755 };
}

/** In-memory tree for tests and benchmarks, with the same contract as LocalStorage (minus links). */
export class MemoryStorage implements StorageBackend {
  readonly features: ReadonlySet<StorageFeature>;
  readonly #root: MemDir = newDir();
  readonly #readOnly: boolean;
  readonly #maxBytes: number;
  #used = 0;

  constructor(options: MemoryStorageOptions = {}) {
    const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!(max >= 0)) throw new FerryError('ERR_INVALID_OPTION', 'MemoryStorage: `maxBytes` must be >= 0.');
    this.#readOnly = options.readOnly ?? false;
    this.#maxBytes = max;
    this.features = options.features ? new Set(options.features) : FEATURES;
    for (const [path, content] of Object.entries(options.files ?? {})) {
      const p = resolveVPath(ROOT, path);
      let dir = this.#root;
      for (const seg of segmentsOf(parentOf(p))) {
        const next = dir.children.get(seg) ?? newDir();
        if (next.kind !== 'dir')
          throw new FerryError('ERR_INVALID_OPTION', `MemoryStorage: ${path} is below a file.`);
        dir.children.set(seg, next);
        dir = next;
      }
      const data = Buffer.from(content);
      dir.children.set(baseName(p), { kind: 'file', data, modified: new Date(), mode: 0o644 });
      this.#used += data.length;
    }
  }

  /** Bytes of file content currently stored. */
  get usedBytes(): number {
    return this.#used;
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    this.#begin(p, c);
    return toFileStat(p, this.#lookup(p, 'stat'));
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    return this.#list(dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    this.#begin(p, c);
    checkOffset(o.offset);
    const node = this.#lookup(p, 'read');
    if (node.kind === 'dir') throw storageError('is-directory', 'read', p);
    const data = node.data;
    function* chunks(): Generator<Buffer> {
      for (let i = o.offset; i < data.length; i += CHUNK) yield data.subarray(i, i + CHUNK);
    }
    return addAbortSignal(c.signal, Readable.from(chunks(), { objectMode: false }));
  }

  /**
   * Nothing to hold: the checks are cheap, write() makes them again. The prepared upload goes through
   * this.write (a subclass overriding it, as tests and embedders do, still gets every upload), with
   * whether a file was there now carried in `o` under a private key.
   */
  async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    const marked: WriteOptions = { ...o, [STARTED_ON_FILE]: this.#checkWrite(p, o, c) !== undefined };
    return preparedBy((src, c2) => this.write(p, src, marked, c2));
  }

  async write(p: VPath, src: Readable, o: WriteOptions, c: StorageContext): Promise<{ bytes: number }> {
    const existing = this.#checkWrite(p, o, c);
    // Whether a file was there when the upload was prepared (not prepared: look now).
    const startedOnFile = o[STARTED_ON_FILE] ?? existing !== undefined;

    // Bytes kept from the old file: all of it for append, the first `offset` for REST.
    const old = existing?.data ?? Buffer.alloc(0);
    const prefix = o.append ? old : old.subarray(0, o.offset);

    const chunks: Buffer[] = [];
    let bytes = 0;
    const budget = this.#maxBytes - this.#used + old.length - prefix.length;
    const sink = new Writable({
      highWaterMark: CHUNK,
      write(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > budget) return done(storageError('quota-exceeded', 'write', p));
        chunks.push(chunk);
        done();
      },
    });
    try {
      await pipeline(src, sink, { signal: c.signal });
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      throw err; // quota error, or the source's own failure
    }
    // Commit atomically; the tree may have changed while streaming, so look the parent up again.
    const parent = this.#parent(p, 'write');
    const current = parent.children.get(baseName(p));
    if (current?.kind === 'dir') throw storageError('is-directory', 'write', p);
    // Begun onto no file where none may be replaced (a drop box): another upload's stays.
    if (!startedOnFile && current && c.mayReplace?.(p) === false) throw createdMeanwhile(p);
    const data = Buffer.concat([prefix, ...chunks]);
    const delta = data.length - (current?.data.length ?? 0);
    if (this.#used + delta > this.#maxBytes) throw storageError('quota-exceeded', 'write', p);
    this.#used += delta;
    parent.children.set(baseName(p), {
      kind: 'file',
      data,
      modified: new Date(),
      mode: current?.mode ?? 0o644,
    });
    parent.modified = new Date();
    return { bytes };
  }

  /** Refuses an upload its target cannot take; the file there now, if any. */
  #checkWrite(p: VPath, o: { offset: number; append: boolean }, c: StorageContext): MemFile | undefined {
    this.#begin(p, c);
    this.#assertWritable('write', p);
    checkOffset(o.offset);
    if (p === ROOT) throw storageError('is-directory', 'write', p);
    const existing = this.#parent(p, 'write').children.get(baseName(p));
    if (existing?.kind === 'dir') throw storageError('is-directory', 'write', p);
    checkRestart(p, o, existing?.data.length);
    return existing;
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('mkdir', p);
    if (p === ROOT) throw storageError('exists', 'mkdir', p);
    const parent = this.#parent(p, 'mkdir');
    if (parent.children.has(baseName(p))) throw storageError('exists', 'mkdir', p);
    parent.children.set(baseName(p), newDir());
    parent.modified = new Date();
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('remove', p);
    if (p === ROOT) throw storageError('is-directory', 'remove', p);
    const parent = this.#parent(p, 'remove');
    const node = parent.children.get(baseName(p));
    if (!node) throw storageError('not-found', 'remove', p);
    if (node.kind === 'dir') throw storageError('is-directory', 'remove', p);
    parent.children.delete(baseName(p));
    parent.modified = new Date();
    this.#used -= node.data.length;
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('rmdir', p);
    if (p === ROOT) throw storageError('permission-denied', 'rmdir', p);
    const parent = this.#parent(p, 'rmdir');
    const node = parent.children.get(baseName(p));
    if (!node) throw storageError('not-found', 'rmdir', p);
    if (node.kind !== 'dir') throw storageError('not-directory', 'rmdir', p);
    if (node.children.size > 0) throw storageError('not-empty', 'rmdir', p);
    parent.children.delete(baseName(p));
    parent.modified = new Date();
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    this.#begin(from, c);
    assertVPath(to);
    this.#assertWritable('rename', from);
    if (from === ROOT || to === ROOT) throw storageError('permission-denied', 'rename', from);
    if (isDescendant(to, from)) throw storageError('into-itself', 'rename', to);
    const src = this.#parent(from, 'rename');
    const node = src.children.get(baseName(from));
    if (!node) throw storageError('not-found', 'rename', from);
    const dst = this.#parent(to, 'rename');
    const over = dst.children.get(baseName(to));
    if (over === node) return;
    // As rename(2): a directory replaces an empty directory; a file only a file.
    if (over && (over.kind === 'dir') !== (node.kind === 'dir')) throw storageError('exists', 'rename', to);
    if (over?.kind === 'dir' && over.children.size > 0) throw storageError('not-empty', 'rename', to);
    if (over?.kind === 'file') this.#used -= over.data.length;
    src.children.delete(baseName(from));
    dst.children.set(baseName(to), node);
    src.modified = dst.modified = new Date();
  }

  async setModified(p: VPath, date: Date, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertFeature('set-modified', p);
    this.#assertWritable('set-modified', p);
    this.#lookup(p, 'set-modified').modified = new Date(date.getTime());
  }

  async chmod(p: VPath, mode: number, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertFeature('chmod', p);
    this.#assertWritable('chmod', p);
    this.#lookup(p, 'chmod').mode = mode & 0o7777;
  }

  async uniqueName(dir: VPath, c: StorageContext): Promise<VPath> {
    this.#begin(dir, c);
    this.#assertWritable('unique-name', dir);
    const node = this.#lookup(dir, 'unique-name');
    if (node.kind !== 'dir') throw storageError('not-directory', 'unique-name', dir);
    for (;;) {
      const name = `ferry-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      if (!node.children.has(name)) return joinVPath(dir, name);
    }
  }

  async *#list(dir: VPath, c: StorageContext): AsyncGenerator<FileStat[]> {
    this.#begin(dir, c);
    const node = this.#lookup(dir, 'list');
    if (node.kind !== 'dir') throw storageError('not-directory', 'list', dir);
    // Snapshot names so concurrent changes cannot break iteration; stats are built a batch at a time.
    const children = [...node.children];
    const pathOf = childPathsOf(dir);
    for (let i = 0; i < children.length; i += LIST_BATCH) {
      throwIfAborted(c.signal);
      const batch: FileStat[] = [];
      for (const [name, child] of children.slice(i, i + LIST_BATCH)) {
        const p = pathOf(name); // too long once a rename moved its directory deeper: left out
        if (p === undefined) c.tooLong?.(dir, name);
        else batch.push(toFileStat(p, child));
      }
      if (batch.length > 0) yield batch;
    }
  }

  #begin(p: string, c: StorageContext): asserts p is VPath {
    assertVPath(p);
    throwIfAborted(c.signal);
  }

  #assertFeature(feature: StorageFeature, p: VPath): void {
    if (!this.features.has(feature)) throw storageError('unsupported', feature, p);
  }

  #assertWritable(op: string, p: VPath): void {
    if (this.#readOnly) throw storageError('permission-denied', op, p);
  }

  #lookup(p: VPath, op: string): MemNode {
    let node: MemNode = this.#root;
    for (const seg of segmentsOf(p)) {
      if (node.kind !== 'dir') throw storageError('not-directory', op, p);
      const next: MemNode | undefined = node.children.get(seg);
      if (!next) throw storageError('not-found', op, p);
      node = next;
    }
    return node;
  }

  #parent(p: VPath, op: string): MemDir {
    const node = this.#lookup(parentOf(p), op);
    if (node.kind !== 'dir') throw storageError('not-directory', op, p);
    return node;
  }
}

function toFileStat(p: VPath, node: MemNode): FileStat {
  return {
    name: baseName(p) || '/',
    path: p,
    type: node.kind,
    size: node.kind === 'file' ? node.data.length : 0,
    modified: new Date(node.modified.getTime()),
    mode: node.mode,
  };
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  }
}
