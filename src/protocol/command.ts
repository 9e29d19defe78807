/**
 * Command lines → typed commands. Arguments are kept verbatim (spaces, quotes, leading '-'):
 * only the single separator space after the verb is removed. Verbs are case-insensitive.
 */
export const verbs = [
  'USER', 'PASS', 'ACCT', 'QUIT', 'REIN',
  'PWD', 'XPWD', 'CWD', 'XCWD', 'CDUP', 'XCUP',
  'TYPE', 'MODE', 'STRU', 'PASV', 'EPSV', 'PORT', 'EPRT',
  'LIST', 'NLST', 'MLSD', 'MLST', 'STAT',
  'RETR', 'STOR', 'STOU', 'APPE', 'REST', 'ALLO', 'ABOR',
  'DELE', 'MKD', 'XMKD', 'RMD', 'XRMD', 'RNFR', 'RNTO', 'SIZE', 'MDTM', 'MFMT',
  'FEAT', 'OPTS', 'SYST', 'NOOP', 'HELP', 'SITE', 'HOST', 'LANG',
  'AUTH', 'PBSZ', 'PROT', 'CCC',
] as const; // prettier-ignore

export type Verb = (typeof verbs)[number];

const verbSet: ReadonlySet<string> = new Set(verbs);

function isVerb(s: string): s is Verb {
  return verbSet.has(s);
}

export type ParsedLine =
  | { readonly kind: 'command'; readonly verb: Verb; readonly arg: string }
  | { readonly kind: 'unknown'; readonly verb: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const verbPattern = /^[A-Za-z]{3,4}$/;

/** Parse one command line (without CRLF). */
export function parseCommand(line: string): ParsedLine {
  if (line.length === 0) return { kind: 'invalid', reason: 'Empty command.' };
  const space = line.indexOf(' ');
  const word = space < 0 ? line : line.slice(0, space);
  const arg = space < 0 ? '' : line.slice(space + 1);
  if (!verbPattern.test(word)) return { kind: 'invalid', reason: 'Syntax error, command unrecognized.' };
  const verb = word.toUpperCase();
  if (!isVerb(verb)) return { kind: 'unknown', verb };
  return { kind: 'command', verb, arg };
}

/** For logs: a command line with any secret argument masked. */
export function redactCommand(verb: string, arg: string): string {
  if (verb === 'PASS' || verb === 'ACCT') return `${verb} ****`;
  return arg.length > 0 ? `${verb} ${arg}` : verb;
}
