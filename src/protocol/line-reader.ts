/**
 * Incremental framing of a control stream into command lines (RFC 959 / RFC 854 NVT).
 *
 * Bytes are buffered raw and Telnet commands are stripped only when a line is taken, so
 * `takeRemainder()` hands back exactly the bytes that arrived (e.g. a TLS ClientHello that followed
 * AUTH TLS in the same segment).
 */

import { isUtf8 } from 'node:buffer';

export type LineResult =
  | { readonly kind: 'line'; readonly line: string }
  /**
   * A line whose bytes (Telnet commands before the verb stripped) are not UTF-8 (RFC 2640: pathnames are UTF-8).
   * `line` shows them with U+FFFD: to find the verb and to log, never to name anything, since two
   * different names would read the same. `bytes`: the line itself (a copy), for a legacy encoding
   * (legacy-encoding.ts) to read.
   */
  | { readonly kind: 'not-utf8'; readonly line: string; readonly bytes: Buffer }
  | { readonly kind: 'too-long' };

export interface LineReaderOptions {
  /** Longest accepted line in raw bytes, terminator excluded (default 4096). */
  readonly maxLineBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;
const SE = 0xf0; // lowest two-byte Telnet command
const DM = 0xf2; // Data Mark, the Synch's end
const IP = 0xf4; // Interrupt Process
const WILL = 0xfb; // WILL, WONT, DO, DONT (0xFB-0xFE) take an option byte
const EMPTY = Buffer.alloc(0);

type Scan =
  | { readonly done: false }
  | { readonly done: true; readonly end: number; readonly parts: readonly (readonly [number, number])[] };

export class LineReader {
  readonly maxLineBytes: number;
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** After a too-long line: drop bytes until the next LF. */
  private discarding = false;

  constructor(options: LineReaderOptions = {}) {
    const max = options.maxLineBytes ?? 4096;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${String(max)}`);
    }
    this.maxLineBytes = max;
  }

  /** Bytes currently buffered (bounded by about maxLineBytes once results are drained). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos;
  }

  /** Whether at least `n` complete lines are buffered (what a client sent without waiting). */
  hasLines(n: number): boolean {
    let at = this.pos;
    for (let i = 0; i < n; i++) {
      const lf = this.buf.indexOf(LF, at);
      if (lf < 0) return false;
      at = lf + 1;
    }
    return true;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.discarding) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.discarding = false;
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return;
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** The next complete line (or too-long marker), or undefined when more bytes are needed. */
  next(): LineResult | undefined {
    const start = this.pos;
    const b = this.buf;
    const scan = scanLine(b, start);
    if (!scan.done) {
      // Allow one extra byte for a CR whose LF has not arrived yet.
      if (b.length - start > this.maxLineBytes + 1) {
        this.buf = EMPTY;
        this.pos = 0;
        this.discarding = true;
        return { kind: 'too-long' };
      }
      return undefined;
    }
    this.pos = scan.end + 1;
    if (this.pos >= b.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    if (withoutTrailingCr(b, start, scan.end) - start > this.maxLineBytes) return { kind: 'too-long' };
    return decodeParts(b, scan.parts);
  }

  /** Iterates over every result available now. */
  *[Symbol.iterator](): Generator<LineResult, void, undefined> {
    for (let r = this.next(); r !== undefined; r = this.next()) yield r;
  }

  /** Returns and forgets the buffered raw bytes (e.g. the start of a TLS handshake). */
  takeRemainder(): Buffer {
    const rest = this.buf.subarray(this.pos);
    this.clear();
    return rest;
  }

  clear(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.discarding = false;
  }
}

/**
 * Finds the LF ending the line at `start`, skipping Telnet commands (an option byte may be 0x0A),
 * and collects the byte ranges that remain once those before the verb are taken away.
 *
 * Only Telnet commands before the line's first data byte are stripped (IP and Synch before ABOR,
 * WILL/WONT/DO/DONT with their option): stripped from inside a name, a 0xFF byte sent unescaped
 * (Latin-1 `ÿ`) would leave another, existing name (`DELE victim\xffx.txt` deleting
 * `victimx.txt`). Anywhere after, every IAC stays as the byte 0xFF (IAC IAC as one, RFC 959), which
 * UTF-8 never holds, so the line is refused whole. vsftpd strips nothing; ProFTPD strips IP and DM
 * anywhere.
 */
function scanLine(b: Buffer, start: number): Scan {
  const parts: (readonly [number, number])[] = [];
  let segStart = start;
  let i = start;
  for (;;) {
    const lf = b.indexOf(LF, i);
    if (lf < 0) return { done: false };
    // Only look for IAC before this LF: no scan of the whole buffer per line.
    const rel = b.subarray(i, lf).indexOf(IAC);
    if (rel < 0) {
      parts.push([segStart, lf]);
      return { done: true, end: lf, parts };
    }
    const iac = i + rel;
    const cmd = b[iac + 1] ?? 0; // iac < lf, so iac + 1 exists
    const beforeVerb = iac === segStart && parts.length === 0;
    if (cmd === IAC) {
      // Escaped 0xFF: keep the second byte as data.
      if (iac > segStart) parts.push([segStart, iac]);
      segStart = iac + 1;
      i = iac + 2;
    } else if (cmd >= WILL) {
      if (iac + 3 > b.length) return { done: false };
      i = iac + 3;
      if (beforeVerb) segStart = i;
    } else if (cmd >= SE) {
      i = iac + 2;
      if (beforeVerb) {
        // IP, DM (Synch), AO, AYT, ... and SB/SE: drop the two bytes.
        segStart = i;
        // BSD ftp's ABOR sends IAC IP IAC as urgent data, then DM ABOR: the kernel drops the urgent
        // byte (the second IAC) unless SO_OOBINLINE, which Node cannot set, leaving a bare DM.
        if (cmd === IP && b[i] === DM) segStart = i = i + 1;
      }
    } else {
      // Not a Telnet command: the IAC is a data byte.
      i = iac + 1;
    }
  }
}

function decodeParts(b: Buffer, parts: readonly (readonly [number, number])[]): LineResult {
  let bytes: Buffer;
  if (parts.length === 1) {
    const [s, e] = parts[0] ?? [0, 0];
    bytes = b.subarray(s, e);
  } else {
    bytes = Buffer.concat(parts.map(([s, e]) => b.subarray(s, e)));
  }
  const text = bytes.subarray(0, withoutTrailingCr(bytes, 0, bytes.length));
  const line = text.toString('utf8');
  // The decoder marks what it could not decode with U+FFFD; only a line that shows one (which
  // valid UTF-8 may also spell) needs the check.
  if (!line.includes('\uFFFD') || isUtf8(text)) return { kind: 'line', line };
  return { kind: 'not-utf8', line, bytes: Buffer.from(text) };
}

/**
 * Where `b[start, end)` ends without its trailing CRs: every one, as vsftpd and ProFTPD take
 * `NOOP\r\r\n` (old Mac and embedded clients); a CR inside the line stays.
 */
function withoutTrailingCr(b: Buffer, start: number, end: number): number {
  while (end > start && b[end - 1] === CR) end--;
  return end;
}
