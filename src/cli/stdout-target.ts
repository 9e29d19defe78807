import { fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * Where `get URL -` and `cat` write a download. Into a pipe (`| gzip`) on Linux: /dev/stdout,
 * reopened as a file of the download's own (a FileSink: 256 KiB writes through the thread pool,
 * whatever the reader's pace), rather than process.stdout, a stream that takes each 16 KiB TLS
 * record as a write of its own (1 GiB from Pure-FTPd into `| cat`: 3.0-4.3 CPU s against
 * 2.1-2.9). Anything else stays process.stdout: a file keeps its offset and O_APPEND (a reopened
 * /dev/stdout would write from 0), a terminal its stream; elsewhere /dev/stdout may be fd 1 itself.
 */
export function stdoutTarget(): { local: string | Writable; end?: false } {
  if (process.platform === 'linux' && isPipe(1)) return { local: '/dev/stdout' };
  // Left open for what follows (several files, one after the other).
  return { local: process.stdout, end: false };
}

function isPipe(fd: number): boolean {
  try {
    return fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}
