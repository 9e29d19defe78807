import { close, write } from 'node:fs';

/** What an appender tells its owner (for the log about the log). */
export interface AppendEvents {
  /** A write failed (ENOSPC, EIO…): `lost` lines will never be in the file. */
  failed(err: unknown, lost: number): void;
  /** A write went through whole. */
  written(): void;
}

const NEWLINE = 0x0a;

/**
 * Appends lines to one descriptor opened with O_APPEND, in order: the lines queued meanwhile go out
 * in one write(2), so the workers of a cluster, appending to the same file, do not split each
 * other's lines. A write the disk cuts short (ENOSPC within a line) keeps the rest of that line and
 * writes it first next time, completing the line instead of gluing a later one onto its half; the
 * lines after it are dropped and counted, not kept for a disk that may stay full. A failure does not
 * end the appender: the next line tries again.
 */
export class LineAppender {
  #queue: string[] = [];
  /** The unwritten end of a line a failed write cut, newline included. */
  #rest: Buffer | undefined;
  #busy = false;
  #done: Promise<void>;

  /** `after`: nothing is written before it resolves (the file's previous descriptor closing). */
  constructor(
    readonly fd: number,
    private readonly events: AppendEvents,
    after: Promise<void> = Promise.resolve(),
  ) {
    this.#done = after;
  }

  /** Queues `line` (without its newline). */
  append(line: string): void {
    this.#queue.push(line);
    if (this.#busy) return;
    this.#busy = true;
    this.#done = this.#done.then(() => this.#run());
  }

  /** Resolves once every line appended so far was written or counted as lost. */
  flushed(): Promise<void> {
    return this.#done;
  }

  /** Writes what is queued (a cut line's rest a last time) and closes the descriptor. */
  async close(): Promise<void> {
    while (this.#busy) await this.#done;
    if (this.#rest) await this.#writeOut([], true);
    await new Promise<void>((resolve) => close(this.fd, () => resolve()));
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const lines = this.#queue;
      this.#queue = [];
      await this.#writeOut(lines);
    }
    this.#busy = false; // in the same tick as the check: a line appended now starts a new run
  }

  /** `last`: a line still cut after this write is lost (the descriptor closes). */
  async #writeOut(lines: string[], last = false): Promise<void> {
    const text = lines.length > 0 ? Buffer.from(lines.join('\n') + '\n') : Buffer.alloc(0);
    const buf = this.#rest ? Buffer.concat([this.#rest, text]) : text;
    let done = 0;
    try {
      while (done < buf.length) done += await writeSome(this.fd, buf, done);
      this.#rest = undefined;
      this.events.written();
    } catch (err) {
      // A line is cut if the file ends within it: some of it written now, or its start earlier.
      const cut = !last && (done > 0 ? buf[done - 1] !== NEWLINE : this.#rest !== undefined);
      this.#rest = cut ? Buffer.from(buf.subarray(done, buf.indexOf(NEWLINE, done) + 1)) : undefined;
      this.events.failed(err, newlines(buf, done) - (cut ? 1 : 0));
    }
  }
}

/** One write(2) of `buf` from `at`: the bytes it took. */
function writeSome(fd: number, buf: Buffer, at: number): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, buf, at, buf.length - at, null, (err, n) => {
      if (err) reject(err);
      else if (n === 0) reject(new Error('the file took no bytes'));
      else resolve(n);
    });
  });
}

function newlines(buf: Buffer, from: number): number {
  let n = 0;
  for (let at = buf.indexOf(NEWLINE, from); at !== -1; at = buf.indexOf(NEWLINE, at + 1)) n++;
  return n;
}
