import {
  closeSync,
  constants,
  createWriteStream,
  fchownSync,
  fstatSync,
  openSync,
  type WriteStream,
} from 'node:fs';
import path from 'node:path';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TransferRecord } from '../server/options.js';
import { formatXferlog } from '../server/xferlog.js';

/**
 * The transfer log file (`xferlog: FILE`): one xferlog(5) line per file transfer, appended (O_APPEND:
 * the workers of a cluster write whole lines to the same file). reopen() on SIGHUP follows
 * logrotate's move-and-create.
 *
 * Opened as root (before a --run-as drop), it must be the file named, not where a link or another
 * name leads: the run-as user may own the log's directory, and a descriptor opened as root stays
 * writable after the drop. So as root it is opened without following a link (O_NOFOLLOW) and must
 * be a regular file with no other hard link; anything else is refused with the reason.
 */
export class XferlogFile {
  private file: string;
  private stream: WriteStream;
  private fd: number;
  /** Streams replaced by reopen() whose last lines may still be on their way to the file. */
  private readonly ending = new Set<Promise<void>>();

  constructor(
    file: string,
    private readonly logger: Logger,
  ) {
    this.file = path.resolve(file);
    this.fd = openLog(this.file);
    this.stream = this.streamTo(this.fd, this.file);
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
    const next = path.resolve(file);
    let fd: number;
    try {
      fd = openLog(next);
    } catch (err) {
      // The lines go on to the file already open rather than nowhere.
      this.logger.error({ file: next, err: (err as Error).message }, 'cannot write the transfer log');
      return;
    }
    const old = this.stream;
    this.file = next;
    this.fd = fd;
    this.stream = this.streamTo(fd, next);
    const ended = this.end(old);
    this.ending.add(ended);
    void ended.then(() => this.ending.delete(ended));
  }

  /** Gives the open file to the run-as user (through its descriptor), who reopens it after a rotation. */
  giveTo(uid: number, gid: number): void {
    try {
      fchownSync(this.fd, uid, gid);
    } catch (err) {
      this.logger.warn(
        { file: this.file, err: (err as Error).message },
        'cannot give the transfer log to the run-as user: reopening it (SIGHUP) will fail',
      );
    }
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

  private streamTo(fd: number, file: string): WriteStream {
    const stream = createWriteStream(file, { fd });
    stream.on('error', (err) =>
      this.logger.error({ file, err: err.message }, 'cannot write the transfer log'),
    );
    return stream;
  }
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;

/** The log's descriptor, opened to append (as root: the file itself, see XferlogFile); errors name it. */
function openLog(file: string): number {
  const root = process.getuid?.() === 0;
  let fd: number;
  try {
    fd = openSync(file, root ? APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK : APPEND, 0o640);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ELOOP'
        ? 'it is a symbolic link, which Ferry does not follow as root: name the file itself'
        : `cannot open it (${e.code ?? e.message})`;
    throw new FerryError('ERR_INVALID_OPTION', `transfer log ${file}: ${why}.`);
  }
  const st = fstatSync(fd);
  if (root && (!st.isFile() || st.nlink > 1)) {
    closeSync(fd);
    const why = st.isFile() ? `it has ${st.nlink} hard links` : 'it is not a regular file';
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `transfer log ${file}: ${why}; as root, Ferry appends only to a file of its own.`,
    );
  }
  return fd;
}
