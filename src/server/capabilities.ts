import { permits, type Permission } from '../auth/permissions.js';
import type { FileStat, StorageFeature } from '../storage/types.js';
import type { LoginState } from './session.js';

/** Can this session use a storage feature (when given) with a permission (when given)? */
export type Can = (feature?: StorageFeature, permission?: Permission) => boolean;

/**
 * What a session can do, from its storage's features and its user's permissions. Before login
 * nothing is known about either: FEAT then lists what the server offers (true for everything).
 */
export function capabilitiesOf(login: LoginState): Can {
  if (login.phase !== 'in') return () => true;
  const { principal, storage } = login;
  return (feature, permission) =>
    (feature === undefined || storage.features.has(feature)) &&
    (permission === undefined || permits(principal, permission));
}

/** RFC 3659 7.5.5 `perm` fact: the letters this user may act on, for this storage. */
export function permFact(st: FileStat, can: Can): string {
  const letters: [string, boolean][] =
    st.type === 'dir'
      ? [
          ['e', true],
          ['l', can(undefined, 'list')],
          ['c', can(undefined, 'upload')],
          ['m', can(undefined, 'mkdir')],
          ['p', can(undefined, 'delete')],
          ['d', can(undefined, 'rmdir')],
          ['f', can(undefined, 'rename')],
        ]
      : [
          ['r', can(undefined, 'download')],
          ['w', can(undefined, 'overwrite')],
          ['a', can('append', 'upload')],
          ['d', can(undefined, 'delete')],
          ['f', can(undefined, 'rename')],
        ];
  return letters
    .filter(([, ok]) => ok)
    .map(([l]) => l)
    .join('');
}
