import { pino, type Logger as PinoLogger } from 'pino';
import { isJournalStream, journalPriority } from './journal-stream.js';

type Destination = ReturnType<typeof pino.destination>;

/** Log bytes held for a destination that cannot keep up; beyond this, lines are dropped. */
export const LOG_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Lines are gathered up to this many bytes per write, and written at most LOG_FLUSH_MS after the
 * first one waiting: each write is a round trip through libuv's thread pool (a dozen futex calls
 * across threads), which one line per small RETR, and the four lines of each session (connect,
 * TLS, login, disconnect), made a visible share of their cost. At exit pino writes what is left.
 */
const LOG_BATCH_BYTES = 4096;
const LOG_FLUSH_MS = 200;
/** How long `endServerLog` waits for held lines to be written before it drops them. */
export const LOG_END_MS = 2000;

/**
 * The server's log: JSON lines to standard output through an asynchronous buffer, written in
 * batches (at most LOG_FLUSH_MS late), that never holds more than `maxBytes` (a slow disk, a full
 * pipe or a paused terminal must not grow memory without bound). Dropped lines are counted and
 * reported in one line once the output has drained. Into the systemd journal, each line starts with
 * its syslog priority (`<4>` for a warning: see journal-stream.ts); a file or terminal gets JSON.
 */
export function createServerLogger(level: string, fd = 1, maxBytes = LOG_BUFFER_BYTES): PinoLogger {
  const destination = pino.destination({
    dest: fd,
    sync: false,
    maxLength: maxBytes,
    minLength: Math.min(LOG_BATCH_BYTES, maxBytes - 1),
  });
  const prefix = isJournalStream(fd) ? journalPriority : undefined;
  const logger = pino({ level }, flushedWithin(destination, LOG_FLUSH_MS, prefix));
  let dropped = 0;
  destination.on('drop', () => dropped++);
  // A failed write (a full disk, a closed pipe) must not end the server: the lines stay held and are
  // tried again with the next batch (pino stops writing for good after EPIPE, the reader is gone).
  destination.on('error', () => {});
  destination.on('drain', () => {
    if (dropped === 0) return;
    const n = dropped;
    dropped = 0;
    logger.warn({ droppedLines: n }, `log output could not keep up: ${n} lines dropped`);
  });
  return logger;
}

/**
 * pino escapes C0 controls in strings but writes DEL and the C1 controls raw, and client input (a
 * USER name, CLNT) reaches the log: CSI (U+009B) starts an escape sequence in some terminals that
 * show the log. They can only be inside JSON strings, where the \u escape means the same.
 */
const C1 = /[\x7f-\x9f]/g;
function escapeC1(line: string): string {
  return line.replace(C1, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The destination, flushed `ms` after the first line it holds (sonic-boom's own periodicFlush
 * writes every period even when it holds nothing: an idle server woke 5 times a second for an empty
 * write through the thread pool).
 */
function flushedWithin(
  destination: Destination,
  ms: number,
  prefix?: (line: string) => string,
): { write(line: string): void; flush(cb: (err?: Error) => void): void } {
  let timer: NodeJS.Timeout | undefined;
  /** The destination was given up (destroyed): later lines are dropped. */
  let abandoned = false;
  const flush = (): void => {
    timer = undefined;
    try {
      destination.flush();
    } catch {
      // Destroyed: the process is ending, and pino's exit handler wrote what was held.
    }
  };
  return {
    write(line: string): void {
      if (abandoned) return;
      destination.write(prefix ? prefix(line) + escapeC1(line) : escapeC1(line));
      if (timer) return;
      timer = setTimeout(flush, ms);
      timer.unref();
    },
    /**
     * pino's `logger.flush(cb)`: writes what is held, within LOG_END_MS. What cannot be written by
     * then (or failed) is dropped: pino's own flush at exit (sonic-boom's flushSync) would retry it
     * for ever, 100 ms at a time, and the process would hang instead of ending.
     */
    flush(cb: (err?: Error) => void): void {
      clearTimeout(timer);
      timer = undefined;
      let done = false;
      const end = (err?: NodeJS.ErrnoException): void => {
        if (done) return;
        done = true;
        clearTimeout(giveUp);
        // After the lines are written sonic-boom fsyncs, which a pipe or terminal refuses (EINVAL).
        const failed = err !== undefined && err.syscall !== 'fsync';
        if (failed && !abandoned) {
          abandoned = true;
          destination.destroy();
        }
        cb(failed ? err : undefined);
      };
      const giveUp = setTimeout(
        () => end(new Error('the log output did not take the last lines')),
        LOG_END_MS,
      );
      try {
        destination.flush((err) => end(err ?? undefined));
      } catch (err) {
        end(err instanceof Error ? err : new Error(String(err)));
      }
    },
  };
}

/** Writes what the server's log holds (or drops it, see `flush` above); for a process about to exit. */
export function endServerLog(logger: PinoLogger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
