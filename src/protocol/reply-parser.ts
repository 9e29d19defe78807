import { wireCode, type ReplyCode } from './codes.js';
import type { Reply } from './reply.js';
import { decodeBytes, encodeText } from './byte-text.js';

/**
 * Client side: incremental, chunk-tolerant parser of server replies (RFC 959 4.2).
 * A multi-line reply starts with `ddd-` and ends at the first line that is exactly `ddd` or starts
 * with `ddd ` (same code); every line in between is content, whatever it looks like. Bytes that are
 * not UTF-8 (a Latin-1 name in a 257) are kept as byte-text.ts says.
 */

export type ReplyParseResult =
  | { readonly kind: 'reply'; readonly reply: Reply }
  /** A line that is not a reply outside a reply, or a reply longer than the cap. */
  | { readonly kind: 'invalid'; readonly line: string; readonly reason: string };

export interface ReplyParserOptions {
  /** Cap on the length of one reply (all its lines), so a hostile server cannot grow memory. */
  readonly maxReplyLength?: number;
}

const startPattern = /^([1-6]\d\d)([ -]|$)/;
const LF = 0x0a;

export class ReplyParser {
  readonly maxReplyLength: number;
  /** The chunks of a line not ended yet: lines are split as bytes, then decoded (byte-text.ts). */
  private partial: Buffer[] = [];
  private partialLength = 0;
  private code: ReplyCode | undefined;
  private lines: string[] = [];
  private length = 0;
  /** After an overlong reply: drop bytes until the next line break. */
  private discarding = false;

  constructor(options: ReplyParserOptions = {}) {
    this.maxReplyLength = options.maxReplyLength ?? 1024 * 1024;
  }

  /** True while part of a reply has been received. */
  get inProgress(): boolean {
    return this.code !== undefined || this.partialLength > 0;
  }

  /** Feeds received data; returns every result that became complete. */
  push(data: string | Uint8Array): ReplyParseResult[] {
    let bytes =
      typeof data === 'string'
        ? encodeText(data)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const out: ReplyParseResult[] = [];
    if (this.discarding) {
      const lf = bytes.indexOf(LF);
      if (lf < 0) return out;
      this.discarding = false;
      bytes = bytes.subarray(lf + 1);
    }
    let from = 0;
    for (;;) {
      const lf = bytes.indexOf(LF, from);
      if (lf < 0) break;
      let line = decodeBytes(Buffer.concat([...this.partial, bytes.subarray(from, lf)]));
      this.partial = [];
      this.partialLength = 0;
      from = lf + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const r = this.line(line);
      if (r) out.push(r);
    }
    if (from < bytes.length) {
      // A copy: the caller may reuse its read buffer before the line's end arrives.
      this.partial.push(Buffer.from(bytes.subarray(from)));
      this.partialLength += bytes.length - from;
    }
    if (this.length + this.partialLength > this.maxReplyLength) {
      const line = decodeBytes(Buffer.concat(this.partial).subarray(0, 200));
      out.push({ kind: 'invalid', line, reason: 'Reply too long.' });
      this.reset();
      this.discarding = true;
    }
    return out;
  }

  /** Forgets any partial reply (e.g. when the connection is re-established). */
  reset(): void {
    this.partial = [];
    this.partialLength = 0;
    this.code = undefined;
    this.lines = [];
    this.length = 0;
    this.discarding = false;
  }

  private line(line: string): ReplyParseResult | undefined {
    if (this.code === undefined) {
      const m = startPattern.exec(line);
      if (!m) {
        // Blank lines between replies are harmless noise some servers emit.
        if (line.trim() === '') return undefined;
        return { kind: 'invalid', line, reason: 'Not a reply line.' };
      }
      const code = wireCode(Number(m[1]));
      const text = line.slice(4);
      if (m[2] === '-') {
        this.code = code;
        this.lines = [text];
        this.length = line.length;
        return undefined;
      }
      return { kind: 'reply', reply: { code, lines: [text] } };
    }
    this.length += line.length + 1;
    if (this.length > this.maxReplyLength) {
      this.reset();
      return { kind: 'invalid', line: line.slice(0, 200), reason: 'Reply too long.' };
    }
    const m = startPattern.exec(line);
    if (m && m[2] !== '-' && Number(m[1]) === this.code) {
      const [first, ...rest] = this.lines;
      const reply: Reply = { code: this.code, lines: [first ?? '', ...rest, line.slice(4)] };
      this.code = undefined;
      this.lines = [];
      this.length = 0;
      return { kind: 'reply', reply };
    }
    this.lines.push(line);
    return undefined;
  }
}

/**
 * Parses one complete reply given as text (CRLF or LF line breaks, final break optional).
 * Undefined unless the text is exactly one well-formed reply.
 */
export function parseReplyText(text: string): Reply | undefined {
  const parser = new ReplyParser();
  const results = parser.push(/\n$/.test(text) ? text : `${text}\n`);
  const [only] = results;
  if (results.length !== 1 || only?.kind !== 'reply' || parser.inProgress) return undefined;
  return only.reply;
}

/** The text of a reply as one string (lines joined with LF), e.g. for error messages. */
export function replyText(r: Reply): string {
  return r.lines.join('\n');
}
