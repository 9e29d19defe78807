// A user's whole tree as `ferry serve` serves it and `ferry users rescan` counts it: the home at `/`
// and each virtual folder at its path, every one a storage of its own (jailed at its own root).
import { LocalStorage } from '../storage/local.js';
import { withFolders } from '../storage/mounts.js';
import type { StorageBackend } from '../storage/types.js';

export interface TreeOf {
  home: string;
  folders?: Readonly<Record<string, string>>;
}

export function userTree(user: TreeOf, readOnly = false): StorageBackend {
  const open = (root: string): StorageBackend => new LocalStorage({ root, readOnly });
  return withFolders(
    open(user.home),
    Object.entries(user.folders ?? {}).map(([at, root]) => ({ at, storage: open(root) })),
  );
}
