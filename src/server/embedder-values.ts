/**
 * What an embedder's code (its authenticator, its storage) hands the server, checked where it comes
 * in: a few typeof checks per value, so that a wrong one is that code's error, said so in the log,
 * and never a login or a reply made of it (`213 undefined`, `size=NaN`).
 */
import { PERMISSIONS } from '../auth/permissions.js';
import type { Principal } from '../auth/types.js';
import type { FileStat } from '../storage/types.js';

/** A value, short, for a log line: `undefined`, `-5`, `"lots"`, `an object`. */
export function shown(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v instanceof Date) return 'an invalid Date';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** What an embedder's call threw or rejected with, for a log line: `Error: no such tenant`, `undefined`. */
export function thrown(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : shown(err);
}

/** The functions a StorageBackend must have (StorageBackend in storage/types.ts). */
export const STORAGE_METHODS = [
  'stat',
  'list',
  'openRead',
  'write',
  'mkdir',
  'remove',
  'removeDir',
  'rename',
] as const;

/** What is wrong with what storageFor returned for a StorageBackend, or undefined. */
export function storageFault(s: unknown): string | undefined {
  if (s instanceof Promise) return 'a Promise';
  if (typeof s !== 'object' || s === null) return shown(s);
  const b = s as Record<string, unknown>;
  const missing = STORAGE_METHODS.find((m) => typeof b[m] !== 'function');
  if (missing) return `a storage whose ${missing} is ${shown(b[missing])}, not a function`;
  // Read by FEAT, SIZE, STOR…: missing, each of them failed later with a bare TypeError.
  const features = b.features as { has?: unknown } | null | undefined;
  if (typeof features?.has !== 'function') return `a storage whose features is ${shown(features)}, not a Set`;
  return undefined;
}

/** A byte count: a whole number ≥ 0. */
export const isSize = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

const isDate = (v: unknown): v is Date => v instanceof Date && !Number.isNaN(v.getTime());

/** What is wrong with a FileStat from a storage, or undefined. */
export function statFault(st: unknown): string | undefined {
  if (typeof st !== 'object' || st === null) return `${shown(st)} for a FileStat`;
  const s = st as { [K in keyof FileStat]?: unknown };
  if (s.type !== 'file' && s.type !== 'dir' && s.type !== 'link') return `type ${shown(s.type)}`;
  if (typeof s.name !== 'string') return `name ${shown(s.name)}`;
  if (!isSize(s.size)) return `size ${shown(s.size)}`;
  if (!isDate(s.modified)) return `modified ${shown(s.modified)}`;
  if (!Number.isInteger(s.mode)) return `mode ${shown(s.mode)}`;
  const h = s.hiddenFile as { size?: unknown; modified?: unknown } | null | undefined;
  if (h === undefined) return undefined;
  if (typeof h !== 'object' || h === null) return `hiddenFile ${shown(h)}`;
  if (!isSize(h.size)) return `hiddenFile.size ${shown(h.size)}`;
  return isDate(h.modified) ? undefined : `hiddenFile.modified ${shown(h.modified)}`;
}

const LIMITS = ['maxSessions', 'quotaSize', 'quotaFiles', 'uploadRate', 'downloadRate'] as const;

/** A permission rule: `'*'` or a list of permissions (a string would be read as its letters). */
const isRule = (v: unknown): boolean =>
  v === '*' || (Array.isArray(v) && v.every((x) => (PERMISSIONS as readonly unknown[]).includes(x)));
const isString = (v: unknown): boolean => typeof v === 'string';

/** What is wrong with `principal.<k>` if given: a list, or a map of paths, of values `ok` takes. */
function collectionFault(
  k: string,
  v: unknown,
  ok: (x: unknown) => boolean,
  list = false,
): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v) !== list) return `principal.${k} ${shown(v)}`;
  const bad = Object.entries(v).find(([, x]) => !ok(x));
  return bad && `principal.${k}[${JSON.stringify(list ? Number(bad[0]) : bad[0])}] ${shown(bad[1])}`;
}

/**
 * What is wrong with a Principal from an authenticator, or undefined. Every field is checked: a
 * string where a list belongs (`denyFiles: '*.exe'`) would be read letter by letter.
 */
export function principalFault(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null) return `principal ${shown(p)}`;
  const q = p as { [K in keyof Principal]?: unknown };
  if (typeof q.username !== 'string' || q.username === '') return `principal.username ${shown(q.username)}`;
  if (typeof q.home !== 'string') return `principal.home ${shown(q.home)}`;
  if (typeof q.readOnly !== 'boolean') return `principal.readOnly ${shown(q.readOnly)}`;
  for (const k of LIMITS) {
    const v = q[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) return `principal.${k} ${shown(v)}`;
  }
  for (const k of ['hideDotFiles', 'anonymous', 'hash'] as const) {
    const v = q[k];
    if (v !== undefined && typeof v !== 'boolean') return `principal.${k} ${shown(v)}`;
  }
  return (
    collectionFault('denyFiles', q.denyFiles, isString, true) ??
    collectionFault('folders', q.folders, isString) ??
    collectionFault('permissions', q.permissions, isRule)
  );
}

/** What is wrong with an authenticator's AuthOutcome, or undefined. */
export function outcomeFault(o: unknown): string | undefined {
  if (typeof o !== 'object' || o === null) return `${shown(o)} for an AuthOutcome`;
  const { ok, principal } = o as { ok?: unknown; principal?: unknown };
  if (ok === false) return undefined;
  return ok === true ? principalFault(principal) : `ok ${shown(ok)}`;
}
