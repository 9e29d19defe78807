// Concurrent APPEs to one file and what they left there (test/e2e/append-race, test/cli/append-race).
import assert from 'node:assert/strict';
import { storeAll } from '../e2e/harness.js';
import type { Reply } from '../../src/protocol/reply.js';
import { textOf, type RawFtp } from './raw-ftp.js';

export const APPEND_SIZE = 1024 * 1024;
export const LETTERS = ['A', 'B', 'C', 'D'];

/** Session i APPEs APPEND_SIZE bytes of LETTERS[i] to `name`, all at once; the final replies by letter. */
export async function appendAtOnce(sessions: readonly RawFtp[], name: string): Promise<Map<string, Reply>> {
  for (const s of sessions) await s.cmd('TYPE I', 200);
  const replies = await Promise.all(
    sessions.map((s, i) => storeAll(s, `APPE ${name}`, Buffer.alloc(APPEND_SIZE, LETTERS[i]))),
  );
  return new Map(replies.map((r, i) => [LETTERS[i] ?? '', r]));
}

/** The file as runs of one letter: [letter, length] in order. */
function runsOf(bytes: Buffer): [string, number][] {
  const runs: [string, number][] = [];
  for (let at = 0; at < bytes.length;) {
    let end = at;
    while (end < bytes.length && bytes[end] === bytes[at]) end++;
    runs.push([String.fromCharCode(bytes[at] ?? 0), end - at]);
    at = end;
  }
  return runs;
}

/**
 * Every append that got 226 is in `file` whole, once, and nothing else is; any other reply is a
 * 451 (refused after its 150: the file changed meanwhile). Returns the letters kept.
 */
export function assertAppendsKept(file: Buffer, replies: ReadonlyMap<string, Reply>): string[] {
  for (const [letter, r] of replies)
    assert.ok(r.code === 226 || r.code === 451, `${letter}: ${r.code} ${textOf(r)}`);
  const kept = [...replies].filter(([, r]) => r.code === 226).map(([l]) => l);
  const runs = runsOf(file);
  assert.deepEqual(runs.map(([l]) => l).sort(), kept.sort(), `runs in the file: ${JSON.stringify(runs)}`);
  for (const [letter, n] of runs) assert.equal(n, APPEND_SIZE, `${letter}'s append`);
  return kept;
}
