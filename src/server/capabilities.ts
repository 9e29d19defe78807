import { permits, ruleAt, type Permission } from '../auth/permissions.js';
import type { FileStat, StorageBackend, StorageFeature } from '../storage/types.js';
import { ROOT } from '../storage/virtual-path.js';
import type { LoginState } from './session.js';

/** Can this session use a storage feature (when given) with a permission (when given) at a path (default `/`)? */
export type Can = (feature?: StorageFeature, permission?: Permission, path?: string) => boolean;

/** The features that need a method of the backend besides the flag. */
const METHOD_OF: Partial<Record<StorageFeature, 'setModified' | 'chmod'>> = {
  'set-modified': 'setModified',
  chmod: 'chmod',
};

/**
 * Whether `storage` has `feature`: the flag, and the method it needs where it needs one (a wrapper
 * forwarding an inner backend's `features` without its setModified would otherwise have MFMT
 * advertised and then answer 502). FEAT, SITE HELP, the perm fact and the commands all ask here.
 */
export function supports(storage: StorageBackend, feature: StorageFeature): boolean {
  const method = METHOD_OF[feature];
  return storage.features.has(feature) && (method === undefined || typeof storage[method] === 'function');
}

/**
 * What a session can do, from its storage's features and its user's permissions. Before login
 * nothing is known about either: FEAT then lists what the server offers (true for everything).
 */
export function capabilitiesOf(login: LoginState): Can {
  if (login.phase !== 'in') return () => true;
  const { principal, storage } = login;
  return (feature, permission, path) =>
    (feature === undefined || supports(storage, feature)) &&
    (permission === undefined || permits(principal, permission, path));
}

/** HASH is not switched off for the logged-in user (`hash: false`); before login, it is offered. */
export function hashAllowed(login: LoginState): boolean {
  return login.phase !== 'in' || login.principal.hash !== false;
}

/** The user's root or a folder's mount point (or a directory above one): RMD and RNFR refuse it. */
const immovable = (st: FileStat): boolean => st.mount === true || st.path === ROOT;

/**
 * RFC 3659 7.5.5 `perm` fact: the letters this user may act on, for this storage, with the
 * permissions that apply at the entry's path (appending to an existing file is an overwrite). An
 * immovable directory can be neither removed nor renamed; in a directory that exists only on the way
 * to a folder nothing can be created or deleted either.
 */
export function permFact(st: FileStat, can: Can): string {
  const at = (permission: Permission, feature?: StorageFeature): boolean => can(feature, permission, st.path);
  const fixed = immovable(st);
  // The server's own account's access, where known (FileStat.access): d and f are its parent's to allow.
  const bits = st.access ?? 7;
  const [r, w, x] = [(bits & 4) !== 0, (bits & 2) !== 0, (bits & 1) !== 0];
  const letters: [string, boolean][] =
    st.type === 'dir'
      ? [
          ['e', x],
          ['l', r && x && at('list')],
          ['c', w && x && !st.virtual && at('upload')],
          ['m', w && x && !st.virtual && at('mkdir')],
          ['p', w && x && !st.virtual && at('delete')],
          ['d', !fixed && at('rmdir')],
          ['f', !fixed && at('rename')],
        ]
      : [
          ['r', r && at('download')],
          ['w', w && at('overwrite')],
          ['a', w && at('overwrite', 'append')],
          ['d', at('delete')],
          ['f', at('rename')],
        ];
  return letters
    .filter(([, ok]) => ok)
    .map(([l]) => l)
    .join('');
}

/**
 * permFact for the entries of one listing: the letters depend only on the entry's type, whether it
 * is a mount or the root (or virtual), and the permission rule deciding at its path, so each combination is computed once.
 */
export function listingPermFact(login: LoginState): (st: FileStat) => string {
  const can = capabilitiesOf(login);
  const principal = login.phase === 'in' ? login.principal : undefined;
  const known = new Map<string, string>();
  return (st) => {
    const rule = principal === undefined ? '' : (ruleAt(principal, st.path) ?? '');
    const key = `${st.type}${st.virtual === true ? 'v' : immovable(st) ? '+' : '-'}${st.access ?? 7}${rule}`;
    let perm = known.get(key);
    if (perm === undefined) {
      perm = permFact(st, can);
      known.set(key, perm);
    }
    return perm;
  };
}
