// RFC 959 5.4 lists the replies each command may give. A refusal of what a command names maps to
// 550, 552 or 553 by its cause (errors.ts); this table keeps each command to those it may send, so a
// client that acts on the code (lftp: permanent or not) reads it as the RFC says.
import { Code, type ReplyCode } from './codes.js';
import type { Reply } from './reply.js';

const REFUSALS: ReadonlySet<ReplyCode> = new Set<ReplyCode>([
  Code.FileUnavailable,
  Code.ExceededStorage,
  Code.NameNotAllowed,
]);

/** Of 550, 552 and 553, those each command may send (RFC 959 5.4); the first is the fallback. */
const ALLOWED: Readonly<Record<string, readonly ReplyCode[]>> = {
  // No 550 before the 150. 552 before it is a deliberate exception (RFC 959 lists 452 there, 552
  // after the 150): a quota is not transient, and lftp retries a 452 as it did the 451.
  STOR: [Code.NameNotAllowed, Code.ExceededStorage],
  STOU: [Code.NameNotAllowed, Code.ExceededStorage],
  APPE: [Code.FileUnavailable, Code.NameNotAllowed, Code.ExceededStorage],
  MKD: [Code.FileUnavailable],
  // RFC 959 lists 553 only; 550 stays for what is not the new name's (the RNFR file gone meanwhile,
  // a directory moved into itself), as vsftpd and ProFTPD send it.
  RNTO: [Code.FileUnavailable, Code.NameNotAllowed],
};
/** Any other command: 553 is for the commands that create a name. */
const OTHERS: readonly ReplyCode[] = [Code.FileUnavailable, Code.ExceededStorage];

/** `code` as `verb` may send it: a refusal code it may not send becomes its fallback. */
export function failureCode(verb: string, code: ReplyCode): ReplyCode {
  if (!REFUSALS.has(code)) return code;
  const allowed = ALLOWED[verb] ?? OTHERS;
  return allowed.includes(code) ? code : (allowed[0] ?? code);
}

/**
 * A refusal whose text names its code's cause, with the text it takes where its command may not
 * send that code (a full disk's 552 as MKD's 550: "No space left…", not "Insufficient storage").
 */
export interface Refusal extends Reply {
  readonly refitted?: Reply['lines'];
}

/** `r` with the code `verb` may send: its text kept, or its `refitted` one where the code changed. */
export function fitReply(verb: string, r: Refusal): Reply {
  const code = failureCode(verb, r.code);
  if (code === r.code && r.refitted === undefined) return r;
  return { code, lines: code === r.code ? r.lines : (r.refitted ?? r.lines) };
}
