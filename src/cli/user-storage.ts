// A user's whole tree as `ferry serve` serves it and `ferry users rescan` counts it: the home at `/`
// and each virtual folder at its path, every one a storage of its own (jailed at its own root).
import { LocalStorage, type LocalStorageOptions } from '../storage/local.js';
import { withFolders } from '../storage/mounts.js';
import type { StorageBackend } from '../storage/types.js';
import type { StorageSetup } from './storage-config.js';

export interface TreeOf {
  home: string;
  folders?: Readonly<Record<string, string>>;
}

/**
 * What a process shares among every session's storages (a session gets storages of its own): its
 * upload locks (its APPE must wait for another's), its thread-pool budget and its mount table.
 */
export type ProcessShared = Pick<LocalStorageOptions, 'locks' | 'poolBudget' | 'mounts'>;

/**
 * A host directory as the CLI's processes serve it: they use absolute paths only, so listings may
 * borrow the working directory (storage/working-directory.ts).
 */
export function hostStorage(root: string, readOnly: boolean, shared: ProcessShared = {}): LocalStorage {
  return new LocalStorage({ root, readOnly, borrowWorkingDirectory: true, ...shared });
}

/** `home`: the home's storage when it is not a host directory (S3, from cli/storage-config.ts). */
export function userTree(
  user: TreeOf,
  readOnly = false,
  home?: StorageBackend,
  shared: ProcessShared = {},
): StorageBackend {
  const open = (root: string): StorageBackend => hostStorage(root, readOnly, shared);
  return withFolders(
    home ?? open(user.home),
    Object.entries(user.folders ?? {}).map(([at, root]) => ({ at, storage: open(root) })),
  );
}

/**
 * The tree a quota counts for `a`, read-only: its home on the storage `homes` gives it (a host
 * directory, or S3 per storage.s3) and its folders (`ferry users rescan`, the server's recounts).
 */
export function countedTree(
  a: TreeOf & { readonly username: string },
  homes: Pick<StorageSetup, 'storageFor'>,
  shared: ProcessShared = {},
): StorageBackend {
  return userTree(a, true, homes.storageFor({ username: a.username, home: a.home, readOnly: true }), shared);
}
