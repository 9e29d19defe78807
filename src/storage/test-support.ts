// Helpers for storage tests (unit and e2e); no test runner imported, so importing registers no tests.
import assert from 'node:assert/strict';
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
