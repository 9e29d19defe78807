// Helpers for listing tests; no test runner imported, so importing registers no tests.
import type { FileStat, VPath } from '../../storage/types.js';

/** A file entry named `name`, of `size` bytes, modified at `at` (ms). */
export const entry = (name: string, size = 0, at = 0): FileStat => ({
  name,
  path: `/${name}` as VPath,
  type: 'file',
  size,
  modified: new Date(at),
  mode: 0o644,
  id: name,
});

/** A storage listing of these batches of names. */
export async function* from(...batches: string[][]): AsyncGenerator<readonly FileStat[]> {
  for (const b of batches) yield b.map((n) => entry(n));
}

/** An endless listing of entries named `x`, and whether its reader closed it. */
export function endless(): { listing: AsyncGenerator<readonly FileStat[]>; closed: () => boolean } {
  let closed = false;
  async function* listing(): AsyncGenerator<readonly FileStat[]> {
    try {
      for (;;) yield [entry('x')];
    } finally {
      closed = true;
    }
  }
  return { listing: listing(), closed: () => closed };
}
