// The StatHelper's thread (stat-helper.ts): waits for a job in the shared buffers, takes names
// from its counter as the calling thread does, writes their lstat's, and says when it is done.
import { lstatSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import {
  ACTIVE,
  COUNT,
  DONE,
  FAILED,
  FIELDS,
  JOB,
  NAMES_BYTES,
  NEXT,
  SLOW,
  SLOW_US,
  STATE,
  record,
  waitWhile,
  type SharedJob,
} from './stat-helper.js';

const { ctl, text: shared, out } = workerData as SharedJob;
// A Buffer crosses to a worker as a plain Uint8Array (on the same shared memory).
const text = Buffer.from(shared.buffer, shared.byteOffset, shared.byteLength);
const NO_THROW = { throwIfNoEntry: false } as const;

/** Takes names from the shared counter until none is left (the calling thread takes them too). */
function work(): void {
  const [prefix = '', ...list] = text.toString('utf8', 0, ctl[NAMES_BYTES]).split('\0');
  const count = Math.min(list.length, ctl[COUNT] as number);
  const slowMs = (ctl[SLOW_US] as number) / 1000;
  let slow = 0;
  let before = performance.now();
  for (let i = Atomics.add(ctl, NEXT, 1); i < count; i = Atomics.add(ctl, NEXT, 1)) {
    try {
      record(out, i * FIELDS, lstatSync(prefix + (list[i] as string), NO_THROW));
    } catch {
      out[i * FIELDS] = FAILED;
    }
    const after = performance.now();
    if (after - before > slowMs) slow++;
    before = after;
  }
  ctl[SLOW] = slow;
}

parentPort?.postMessage('ready');
for (;;) {
  const state = Atomics.load(ctl, STATE);
  if (state !== JOB) {
    waitWhile(ctl, state, Infinity); // a listing's next batch comes within a millisecond
    continue;
  }
  // Taken up only while still offered: the calling thread cancels a job it has done alone.
  if (Atomics.compareExchange(ctl, STATE, JOB, ACTIVE) !== JOB) continue;
  work();
  Atomics.store(ctl, STATE, DONE);
  Atomics.notify(ctl, STATE);
}
