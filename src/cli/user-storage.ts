// A user's whole tree as `ferry serve` serves it and `ferry users rescan` counts it: the home at `/`
// and each virtual folder at its path, every one a storage of its own (jailed at its own root).
import { LocalStorage } from '../storage/local.js';
import { withFolders } from '../storage/mounts.js';
import type { StorageBackend } from '../storage/types.js';

export interface TreeOf {
  home: string;
  folders?: Readonly<Record<string, string>>;
}

/**
 * A host directory as the CLI's processes serve it: they use absolute paths only, so listings may
 * borrow the working directory (storage/working-directory.ts).
 */
export function hostStorage(root: string, readOnly: boolean): LocalStorage {
  return new LocalStorage({ root, readOnly, borrowWorkingDirectory: true });
}

/** `home`: the home's storage when it is not a host directory (S3, from cli/storage-config.ts). */
export function userTree(user: TreeOf, readOnly = false, home?: StorageBackend): StorageBackend {
  const open = (root: string): StorageBackend => hostStorage(root, readOnly);
  return withFolders(
    home ?? open(user.home),
    Object.entries(user.folders ?? {}).map(([at, root]) => ({ at, storage: open(root) })),
  );
}
