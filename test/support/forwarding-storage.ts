import type { StorageBackend } from '../../src/storage/types.js';

/**
 * An embedder's wrapper: `inner`'s features and required methods, none of its optional ones
 * (setModified, chmod, prepareWrite…), with `overrides` in place of any.
 */
export function forwardingStorage(
  inner: StorageBackend,
  overrides: Partial<StorageBackend> = {},
): StorageBackend {
  return {
    features: inner.features,
    stat: (p, c) => inner.stat(p, c),
    list: (p, c) => inner.list(p, c),
    openRead: (p, o, c) => inner.openRead(p, o, c),
    write: (p, src, o, c) => inner.write(p, src, o, c),
    mkdir: (p, c) => inner.mkdir(p, c),
    remove: (p, c) => inner.remove(p, c),
    removeDir: (p, c) => inner.removeDir(p, c),
    rename: (from, to, c) => inner.rename(from, to, c),
    ...overrides,
  };
}
