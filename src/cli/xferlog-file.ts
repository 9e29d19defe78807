import { closeSync, constants, fchownSync, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TransferRecord } from '../server/options.js';
import { formatXferlog } from '../server/xferlog.js';
import { LineAppender } from './line-appender.js';

/** While the file cannot be written (a full disk), lines lost are logged at most this often. */
const REPORT_MS = 60_000;
/** While the file cannot be opened, a line tries to open it at most this often (the others are lost). */
const RETRY_OPEN_MS = 1000;

/** Lines lost since the log could no longer be written. */
interface Outage {
  lost: number;
  unreported: number;
  reportedAt: number;
}

/**
 * The transfer log file (`xferlog: FILE`): one xferlog(5) line per file transfer, appended (O_APPEND:
 * the workers of a cluster write whole lines to the same file; line-appender.ts). reopen() on SIGHUP
 * follows logrotate's move-and-create. A write that fails (a full disk) loses its lines, counted and
 * logged (at most once a minute), and the next transfer's line tries again; the log says when the
 * file is written again. A reopen that cannot open the file (logrotate created it for another user)
 * closes the old file all the same (a rotated file is compressed and removed: lines written to it
 * would be lost unseen); until the file opens, lines are lost as on a full disk, and a line tries to
 * open it again at most once a second.
 *
 * Opened as root (before a --run-as drop), it must be the file named, not where a link or another
 * name leads: the run-as user may own the log's directory, and a descriptor opened as root stays
 * writable after the drop. So as root it is opened without following a link (O_NOFOLLOW) and must
 * be a regular file with no other hard link; anything else is refused with the reason.
 */
export class XferlogFile {
  private file: string;
  /** Undefined while the file cannot be opened (after a failed reopen). */
  private out: LineAppender | undefined;
  /** When a line last tried to open the file, while `out` is undefined. */
  private triedAt = -Infinity;
  /** Why the file could not be opened, while `out` is undefined. */
  private openError: unknown;
  /** Files replaced by reopen() whose last lines may still be on their way. */
  private readonly ending = new Set<Promise<void>>();
  private outage: Outage | undefined;
  /** close() began: its descriptor is gone, or going (its number may be another file's by then). */
  private closing = false;

  /** `now`: the clock that spaces the attempts to open the file (a test's own). */
  constructor(
    file: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.file = path.resolve(file);
    this.out = this.appenderTo(openLog(this.file), this.file);
  }

  get path(): string {
    return this.file;
  }

  readonly write = (record: TransferRecord): void => {
    const out = this.out ?? this.tryOpen();
    if (out) out.append(formatXferlog(record));
    else this.failed(this.file, this.openError, 1);
  };

  /** Resolves once every line written so far is in the file or counted as lost. */
  async flushed(): Promise<void> {
    await Promise.all([this.out?.flushed(), ...this.ending]);
  }

  /**
   * Opens the file again (rotated, or another name after a reload); the old one is closed. Paths are
   * made absolute here, in JavaScript: listings borrow the working directory (storage/working-directory.ts).
   */
  reopen(file = this.file): void {
    const next = path.resolve(file);
    let fd: number | undefined;
    try {
      fd = openLog(next);
    } catch (err) {
      // Not on to the old file: after a rotation it is compressed and removed, its lines lost unseen.
      this.openError = err;
      this.triedAt = this.now();
      this.failed(next, err, 0, true);
    }
    // The old descriptor's last lines (a line a full disk cut, completed) go first: the file may be
    // the same one.
    const ended = this.out?.close() ?? Promise.resolve();
    this.file = next;
    this.out = fd === undefined ? undefined : this.appenderTo(fd, next, ended);
    this.ending.add(ended);
    void ended.then(() => this.ending.delete(ended));
  }

  /** Opens the file again if the last attempt is RETRY_OPEN_MS old; undefined if it (still) fails. */
  private tryOpen(): LineAppender | undefined {
    const now = this.now();
    if (now - this.triedAt < RETRY_OPEN_MS) return undefined;
    this.triedAt = now;
    try {
      this.out = this.appenderTo(
        openLog(this.file),
        this.file,
        Promise.all(this.ending).then(() => {}),
      );
    } catch (err) {
      this.openError = err;
      return undefined;
    }
    return this.out;
  }

  /** Gives the open file to the run-as user (through its descriptor), who reopens it after a rotation. */
  giveTo(uid: number, gid: number): void {
    // A stop that came during the start closed the log already: nothing to give (no false alarm).
    if (!this.out || this.closing) return;
    try {
      fchownSync(this.out.fd, uid, gid);
    } catch (err) {
      this.logger.warn(
        { file: this.file, err: (err as Error).message },
        'cannot give the transfer log to the run-as user: reopening it (SIGHUP) will fail',
      );
    }
  }

  /** Resolves once every line written, to this file and to those reopen() left, is in its file. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.out?.close(), ...this.ending]);
    const o = this.outage;
    if (o && o.unreported > 0)
      this.logger.error(
        { file: this.file, lost: o.lost },
        'transfer log lines lost: the file could not be written',
      );
  }

  private appenderTo(fd: number, file: string, after?: Promise<void>): LineAppender {
    const events = {
      failed: (err: unknown, lost: number) => this.failed(file, err, lost),
      // Only the current file ends an outage: the last lines of one reopen() replaced do not.
      written: () => {
        if (appender === this.out) this.written(file);
      },
    };
    const appender = new LineAppender(fd, events, after);
    return appender;
  }

  /** `now`: log it whatever was logged last (a reopen that failed, one line per SIGHUP). */
  private failed(file: string, err: unknown, lost: number, now = false): void {
    const at = this.now();
    const o = (this.outage ??= { lost: 0, unreported: 0, reportedAt: -Infinity });
    o.lost += lost;
    o.unreported += lost;
    if (!now && at - o.reportedAt < REPORT_MS) return;
    o.reportedAt = at;
    o.unreported = 0;
    const message = err instanceof Error ? err.message : String(err);
    this.logger.error({ file, err: message, lost: o.lost }, 'cannot write the transfer log');
  }

  private written(file: string): void {
    if (!this.outage) return;
    this.logger.warn({ file, lost: this.outage.lost }, 'the transfer log is written again');
    this.outage = undefined;
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
