import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { TransferRecord } from '../server/options.js';
import { formatXferlog } from '../server/xferlog.js';

/**
 * The transfer log file (`xferlog: FILE`): one xferlog(5) line per file transfer, appended (O_APPEND:
 * the workers of a cluster write whole lines to the same file). reopen() on SIGHUP follows
 * logrotate's move-and-create.
 */
export class XferlogFile {
  private file: string;
  private stream: WriteStream;
  /** Streams replaced by reopen() whose last lines may still be on their way to the file. */
  private readonly ending = new Set<Promise<void>>();

  constructor(
    file: string,
    private readonly logger: Logger,
  ) {
    this.file = path.resolve(file);
    this.stream = this.open(this.file);
  }

  get path(): string {
    return this.file;
  }

  readonly write = (record: TransferRecord): void => {
    this.stream.write(formatXferlog(record) + '\n');
  };

  /**
   * Opens the file again (rotated, or another name after a reload); the old one is closed. Paths are
   * made absolute here, in JavaScript: listings borrow the working directory (storage/working-directory.ts).
   */
  reopen(file = this.file): void {
    const old = this.stream;
    this.file = path.resolve(file);
    this.stream = this.open(this.file);
    const ended = this.end(old);
    this.ending.add(ended);
    void ended.then(() => this.ending.delete(ended));
  }

  /** Resolves once every line written, to this file and to those reopen() left, is in its file. */
  async close(): Promise<void> {
    await Promise.all([this.end(this.stream), ...this.ending]);
  }

  private end(stream: WriteStream): Promise<void> {
    if (stream.closed) return Promise.resolve();
    return new Promise((resolve) => {
      stream.once('close', () => resolve());
      stream.end();
    });
  }

  private open(file: string): WriteStream {
    const stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
    stream.on('error', (err) =>
      this.logger.error({ file, err: err.message }, 'cannot write the transfer log'),
    );
    return stream;
  }
}
