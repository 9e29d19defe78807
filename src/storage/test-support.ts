// Helpers for storage tests (unit and e2e); no test runner imported, so importing registers no tests.
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { StorageError, type StorageErrorKind } from '../errors.js';
import type { FileStat, StorageBackend, StorageContext, VPath } from './types.js';
import { ROOT, resolveVPath } from './virtual-path.js';

export function ctx(signal: AbortSignal = new AbortController().signal): StorageContext {
  return { sessionId: 'test', signal };
}

export const v = (s: string): VPath => resolveVPath(ROOT, s);

export function source(...chunks: string[]): Readable {
  return Readable.from(chunks.map((s) => Buffer.from(s)));
}

/** Yields some bytes, then fails like a dropped data connection. */
export function failingSource(): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from('partial ');
      await tick();
      throw new Error('data connection reset');
    })(),
  );
}

export async function readAll(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of r) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString();
}

export async function readFile(s: StorageBackend, p: string, offset = 0): Promise<string> {
  return readAll(await s.openRead(v(p), { offset }, ctx()));
}

export async function put(s: StorageBackend, p: string, content: string): Promise<void> {
  await s.write(v(p), source(content), { offset: 0, append: false }, ctx());
}

/** Every entry of a listing, in the storage's order; each batch checked to be non-empty. */
export async function listed(s: StorageBackend, p: string, c: StorageContext = ctx()): Promise<FileStat[]> {
  const out: FileStat[] = [];
  for await (const batch of s.list(v(p), c)) {
    assert.ok(batch.length > 0, 'a listing batch is never empty');
    out.push(...batch);
  }
  return out;
}

export async function names(s: StorageBackend, p: string): Promise<string[]> {
  return (await listed(s, p)).map((e) => e.name).sort();
}

export async function rejectsKind(p: Promise<unknown>, kind: StorageErrorKind): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StorageError, `expected StorageError(${kind}), got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    return true;
  });
}

/** The 240-character name of level `i` of a deep tree: `L07xxx…`. */
export const deepName = (i: number): string => `L${String(i).padStart(2, '0')}${'x'.repeat(237)}`;

/** 255 characters, the longest name: a deep tree's top renamed (or mounted) so. */
export const LONG_TOP = `/r${'y'.repeat(254)}`;

/**
 * 16 nested directories of 240 characters under `top` ('' for the root; made first otherwise),
 * 3,856 characters more: every path fits,
 * the 15th holding `a.txt` (1 byte), the 16th `deep.bin` (100 bytes). Under LONG_TOP instead (as
 * a client makes it: RNFR/RNTO of the top checks only the new name's own path), the 15th is
 * 3,871 characters long and the 16th would be 4,112: too long for a virtual path. Returns the
 * 15th and the 16th's name.
 */
export async function deepTree(s: StorageBackend, top: string): Promise<{ dir: string; tooLong: string }> {
  let dir = top;
  if (top !== '') await s.mkdir(v(top), ctx());
  for (let i = 0; i < 15; i++) await s.mkdir(v((dir += `/${deepName(i)}`)), ctx());
  await s.mkdir(v(`${dir}/${deepName(15)}`), ctx());
  await put(s, `${dir}/a.txt`, 'a');
  await put(s, `${dir}/${deepName(15)}/deep.bin`, 'd'.repeat(100));
  return { dir, tooLong: deepName(15) };
}

/**
 * deepTree's tree under LONG_TOP made in host directory `root`, as an admin's copy leaves it:
 * returns the virtual path of the directory holding `a.txt` and the entry whose path is too long.
 */
export async function hostDeepTree(root: string): Promise<string> {
  const segments = Array.from({ length: 15 }, (_, i) => deepName(i));
  const dir = join(root, 'r', ...segments);
  await mkdir(join(dir, deepName(15)), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'a');
  await writeFile(join(dir, deepName(15), 'deep.bin'), 'd'.repeat(100));
  await rename(join(root, 'r'), join(root, LONG_TOP)); // host paths past PATH_MAX from here
  return [LONG_TOP, ...segments].join('/');
}

/** Renames a deep tree's top back (to `/r`), so that `rm -r` (which needs host paths) can remove it. */
export async function undoHostDeepTree(root: string): Promise<void> {
  await rename(join(root, LONG_TOP), join(root, 'r')).catch(() => undefined);
}
