import type { Principal } from './types.js';

/**
 * What a user may do. Each command declares the one it needs and the path it acts on; the server's
 * policy checks `permits` before the handler runs.
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

/** Permissions by virtual directory (`{ '/': '*', '/pub': ['list', 'download'] }`). */
export type PermissionRules = Readonly<Record<string, readonly Permission[] | '*'>>;

const ALL: ReadonlySet<Permission> = new Set(PERMISSIONS);
const READ_ONLY: ReadonlySet<Permission> = new Set<Permission>(['list', 'download']);

/** `/pub` covers `/pub` and everything below it, not `/public`. */
/** `/pub` covers `/pub` and below, not `/public` (permission rules and mounts alike). */
export function covers(dir: string, path: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * The permissions a principal holds at a virtual path: those of the longest rule covering it; `/`
 * defaults to everything, or to list and download for a read-only account.
 */
export function permissionsAt(p: Principal, path = '/'): ReadonlySet<Permission> {
  const best = ruleAt(p, path);
  const rule = best === undefined ? undefined : p.permissions?.[best];
  if (rule === undefined) return p.readOnly ? READ_ONLY : ALL;
  return rule === '*' ? ALL : new Set(rule);
}

/**
 * The directory of the rule that decides at `path` (the longest covering it), undefined for the
 * default: two paths with the same one have the same permissions.
 */
export function ruleAt(p: Principal, path: string): string | undefined {
  let best: string | undefined;
  for (const dir of Object.keys(p.permissions ?? {})) {
    if (covers(dir, path) && (best === undefined || dir.length > best.length)) best = dir;
  }
  return best;
}

export function permits(p: Principal, need: Permission, path = '/'): boolean {
  return permissionsAt(p, path).has(need);
}

/**
 * Whether a rule of its own applies somewhere below directory `dir`: renaming `dir` would take what
 * is there out from under that rule (a protected `/a/locked` becomes `/b/locked`, where it is not).
 */
export function hasRulesBelow(p: Principal, dir: string): boolean {
  return Object.keys(p.permissions ?? {}).some((rule) => rule !== dir && dir !== '/' && covers(dir, rule));
}

/** `*`, or the names in the canonical order (for display and for the users file). */
export function formatPermissions(rule: readonly Permission[] | '*'): string {
  if (rule === '*' || PERMISSIONS.every((x) => rule.includes(x))) return '*';
  return PERMISSIONS.filter((x) => rule.includes(x)).join(',');
}

/** True when no rule grants anything a read-only account lacks (the storage may then be read-only). */
export function onlyReads(p: Principal): boolean {
  const rules = Object.values(p.permissions ?? {});
  const root = p.permissions?.['/'];
  const rootReads = root === undefined ? p.readOnly : root !== '*' && root.every((x) => READ_ONLY.has(x));
  return rootReads && rules.every((r) => r !== '*' && r.every((x) => READ_ONLY.has(x)));
}
