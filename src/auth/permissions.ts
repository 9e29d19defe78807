import type { Principal } from './types.js';

/**
 * What a user may do. Each command declares the one it needs and the server's policy checks it
 * before the handler runs; per-path rules (accounts) will refine `permits` without touching handlers.
 */
export const PERMISSIONS = [
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
  'chmod',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const ALL: ReadonlySet<Permission> = new Set(PERMISSIONS);
const READ_ONLY: ReadonlySet<Permission> = new Set<Permission>(['list', 'download']);

/** The permissions a principal holds: everything, or list and download for a read-only account. */
export function permissionsOf(p: Principal): ReadonlySet<Permission> {
  return p.readOnly ? READ_ONLY : ALL;
}

export function permits(p: Principal, need: Permission): boolean {
  return permissionsOf(p).has(need);
}
