import type { ReplyCode } from './codes.js';

/** A reply as a value: handlers return these; only the control connection writes them. */
export interface Reply {
  readonly code: ReplyCode;
  readonly lines: readonly [string, ...string[]];
}

export function reply(code: ReplyCode, ...lines: [string, ...string[]]): Reply {
  return { code, lines };
}

/*
 * Reply classes (RFC 959 4.2), the one place that reads a reply code's first digit: everywhere else
 * a reply is compared with `Code.*` names or these predicates.
 */

/** A 1xx reply: more replies follow for the same command. */
export function isPreliminary(r: Reply): boolean {
  return r.code < 200;
}

/** A 2xx reply (positive completion). */
export function isPositiveCompletion(r: Reply): boolean {
  return r.code >= 200 && r.code < 300;
}

/** A 3xx reply (positive intermediate): the command needs another (PASS after USER, RNTO after RNFR). */
export function isPositiveIntermediate(r: Reply): boolean {
  return r.code >= 300 && r.code < 400;
}

/**
 * A 4xx or 5xx reply: the command failed. 6xx (RFC 2228 protected replies, which Ferry never asks
 * for and cannot read) counts as failed too.
 */
export function isNegative(r: Reply): boolean {
  return r.code >= 400;
}

/** A 5xx reply: the command was refused and repeating it will not help (6xx counts, as above). */
export function isPermanentNegative(r: Reply): boolean {
  return r.code >= 500;
}

/** A reply's text on one line, for error messages and logs. */
export function replyLine(r: Reply): string {
  return r.lines.join(' ');
}

/**
 * Wire format (RFC 959 4.2): one line "ddd text", or "ddd-first", continuation lines, "ddd last".
 * Continuation lines that could be mistaken for the end line get a leading space (RFC 2389 style).
 */
export function formatReply(r: Reply): string {
  const { code, lines } = r;
  const clean = lines.map(oneLine);
  if (clean.length === 1) return `${code} ${clean[0]}\r\n`;
  const last = clean.length - 1;
  return (
    formatOpening(code, clean[0] ?? '') + formatMiddle(clean.slice(1, last)) + `${code} ${clean[last]}\r\n`
  );
}

/** A reply line as sent: line breaks become a space, other control characters (echoed client input, such as a user name) '?'. */
const oneLine = (l: string): string => l.replace(/[\r\n]+/g, ' ').replace(/\p{Cc}/gu, '?');

/** The first line of a multi-line reply written piece by piece (a long STAT): "ddd-text". */
export function formatOpening(code: ReplyCode, first: string): string {
  return `${code}-${oneLine(first)}\r\n`;
}

/** Continuation lines; one that could be mistaken for the end line gets a leading space. */
export function formatMiddle(lines: readonly string[]): string {
  let out = '';
  for (const l of lines) {
    const line = oneLine(l);
    out += (/^\d{3}[ -]/.test(line) ? ` ${line}` : line) + '\r\n';
  }
  return out;
}

/**
 * The first line of a reply at the start of bytes that should have been TLS: a server that refuses
 * an implicit FTPS connection before its handshake (vsftpd's `421 There are too many connections…`
 * in clear), or greets in clear (an explicit FTPS port). Undefined when they start otherwise.
 */
export function clearTextReply(bytes: Uint8Array): { code: number; text: string } | undefined {
  const m = /^(\d{3})[ -]([^\r\n]*)\r?\n/.exec(Buffer.from(bytes).toString('latin1'));
  return m ? { code: Number(m[1]), text: (m[2] ?? '').trim() } : undefined;
}
