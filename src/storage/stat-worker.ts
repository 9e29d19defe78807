// A StatPool thread: lstat of a batch of names in one directory, answered as numbers (see stat-pool.ts).
import { lstatSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export interface StatRequest {
  id: number;
  /** The directory, as a /proc/self/fd link the main thread keeps open until the answer. */
  dir: string;
  names: string[];
}

export type StatAnswer = { id: number; values: Float64Array } | { id: number; error: string };

/** Numbers per name in `values`: mode (NaN when the name is gone), size, mtimeMs, dev, ino. */
export const FIELDS = 5;

parentPort?.on('message', ({ id, dir, names }: StatRequest) => {
  const values = new Float64Array(names.length * FIELDS);
  try {
    names.forEach((name, i) => {
      const st = lstatSync(`${dir}/${name}`, { throwIfNoEntry: false });
      const at = i * FIELDS;
      if (!st) {
        values[at] = NaN;
        return;
      }
      values[at] = st.mode;
      values[at + 1] = st.size;
      values[at + 2] = st.mtimeMs;
      values[at + 3] = st.dev;
      values[at + 4] = st.ino;
    });
  } catch (err) {
    const answer: StatAnswer = { id, error: (err as NodeJS.ErrnoException).code ?? 'EIO' };
    parentPort?.postMessage(answer);
    return;
  }
  const answer: StatAnswer = { id, values };
  parentPort?.postMessage(answer, [values.buffer]);
});
