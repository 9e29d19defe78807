// A user's whole tree as `ferry serve` serves it and `ferry users rescan` counts it: the home at `/`
// and each virtual folder at its path, every one a storage of its own (jailed at its own root).
import { LocalStorage } from '../storage/local.js';
import { withFolders } from '../storage/mounts.js';
import type { StorageBackend } from '../storage/types.js';
import type { UploadLocks } from '../storage/upload-locks.js';

export interface TreeOf {
  home: string;
  folders?: Readonly<Record<string, string>>;
}

/**
 * A host directory as the CLI's processes serve it: they use absolute paths only, so listings may
 * borrow the working directory (storage/working-directory.ts). `locks`: the process's, shared by
 * every session's storages (a session gets storages of its own; its APPE must wait for another's).
 */
export function hostStorage(root: string, readOnly: boolean, locks?: UploadLocks): LocalStorage {
  return new LocalStorage({ root, readOnly, borrowWorkingDirectory: true, ...(locks ? { locks } : {}) });
}

/** `home`: the home's storage when it is not a host directory (S3, from cli/storage-config.ts). */
export function userTree(
  user: TreeOf,
  readOnly = false,
  home?: StorageBackend,
  locks?: UploadLocks,
): StorageBackend {
  const open = (root: string): StorageBackend => hostStorage(root, readOnly, locks);
  return withFolders(
    home ?? open(user.home),
    Object.entries(user.folders ?? {}).map(([at, root]) => ({ at, storage: open(root) })),
  );
}
