import { StorageError } from '../errors.js';
import type { VPath } from './types.js';

export const ROOT = '/' as VPath;

/** Limits match common host filesystems so every backend refuses the same names. */
const MAX_PATH_CHARS = 4096;
const MAX_NAME_BYTES = 255;

/**
 * Control characters (Unicode Cc: U+0000–U+001F, U+007F–U+009F) and backslash. NUL ends C strings;
 * CR/LF would let a name forge extra lines in LIST output; the other controls (TAB too, simplest)
 * would reach clients' and admins' terminals raw in replies and listings (ESC and CSI start escape
 * sequences). Backslash is a separator to Windows clients (`..\..\`) and confuses them in names.
 */
const FORBIDDEN = /[\p{Cc}\\]/u;

function notAllowed(what: string): StorageError {
  return new StorageError('name-not-allowed', what);
}

/** A name or path over the limits: the reply says which (`550 File name not allowed: name too long …`). */
function tooLong(what: 'name' | 'path'): StorageError {
  const detail =
    what === 'name'
      ? `name too long (more than ${MAX_NAME_BYTES} bytes)`
      : `path too long (more than ${MAX_PATH_CHARS} characters)`;
  return new StorageError('name-not-allowed', `${what === 'name' ? 'Name' : 'Path'} too long.`, { detail });
}

/** True when `name` can be one path segment. */
export function isAllowedName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !FORBIDDEN.test(name) &&
    Buffer.byteLength(name) <= MAX_NAME_BYTES
  );
}

/** True when `s` is already an absolute, normalized virtual path. */
export function isVPath(s: string): s is VPath {
  if (s === '/') return true;
  if (!s.startsWith('/') || s.length > MAX_PATH_CHARS) return false;
  return s.slice(1).split('/').every(isAllowedName);
}

/** The only place a client path becomes a VPath: lexical `.`/`..` (never above `/`), repeated slashes. */
export function resolveVPath(cwd: VPath, input: string): VPath {
  if (FORBIDDEN.test(input)) throw notAllowed('Path contains a forbidden character.');
  if (input.length > MAX_PATH_CHARS) throw tooLong('path');
  const parts = input.startsWith('/') ? [] : segmentsOf(cwd);
  for (const seg of input.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else if (Buffer.byteLength(seg) > MAX_NAME_BYTES) throw tooLong('name');
    else parts.push(seg);
  }
  const out = '/' + parts.join('/');
  if (out.length > MAX_PATH_CHARS) throw tooLong('path');
  return out as VPath;
}

/** Segments of a VPath; `/` has none. */
export function segmentsOf(p: VPath): string[] {
  return p === '/' ? [] : p.slice(1).split('/');
}

export function parentOf(p: VPath): VPath {
  const i = p.lastIndexOf('/');
  return (i <= 0 ? '/' : p.slice(0, i)) as VPath;
}

/** Last segment; '' for `/`. */
export function baseName(p: VPath): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Appends one segment; throws name-not-allowed if `name` is not a single plain segment. */
export function joinVPath(dir: VPath, name: string): VPath {
  if (!isAllowedName(name)) throw notAllowed('File name not allowed.');
  const out = (dir === '/' ? `/${name}` : `${dir}/${name}`) as VPath;
  if (out.length > MAX_PATH_CHARS) throw tooLong('path');
  return out;
}

/**
 * joinVPath for many names of one directory that `isAllowedName` already accepted (a listing's
 * entries): the prefix is built once and the name is not checked again. Undefined where the path
 * would be too long: a listing leaves that entry out (a rename of an ancestor, or the host, can
 * make such paths), as it leaves out names a client could not address, rather than fail whole.
 */
export function childPathsOf(dir: VPath): (allowedName: string) => VPath | undefined {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  return (name) => {
    const out = prefix + name;
    return fitsVPath(out) ? (out as VPath) : undefined;
  };
}

/** False when `p` is longer than a virtual path may be. */
export function fitsVPath(p: string): boolean {
  return p.length <= MAX_PATH_CHARS;
}

/** True when `p` is strictly below `ancestor`. */
export function isDescendant(p: VPath, ancestor: VPath): boolean {
  return ancestor === '/' ? p !== '/' : p.startsWith(ancestor + '/');
}

/** Backends call this on entry so a hand-made, unnormalized string can never reach the host. */
export function assertVPath(p: string): asserts p is VPath {
  if (!isVPath(p)) throw notAllowed('Invalid path.');
}
