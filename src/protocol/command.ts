import { parseEprtArg, parseEpsvArg, parsePortArg, type EprtArg, type EpsvArg } from './address.js';
import { Code } from './codes.js';
import { parseHashAlgorithm, type HashAlgorithm } from './hash.js';
import { parseMlstOpts, parseTimeVal, type MlstFact } from './listing.js';
import { parseChmodMode } from './mode.js';

/**
 * Command lines → typed commands. Arity and argument syntax are checked here, once: a handler gets
 * its verb's parsed arguments or never runs (501 with the reason; 504 for a parameter that is well
 * formed but not one Ferry implements). Paths are kept verbatim (spaces, quotes, leading '-'):
 * only the single separator space after the verb is removed. Verbs are case-insensitive.
 */
export const verbs = [
  'USER', 'PASS', 'ACCT', 'QUIT', 'REIN',
  'PWD', 'CWD', 'CDUP',
  'TYPE', 'MODE', 'STRU', 'PASV', 'EPSV', 'PORT', 'EPRT',
  'LIST', 'NLST', 'MLSD', 'MLST', 'STAT',
  'RETR', 'STOR', 'STOU', 'APPE', 'REST', 'ALLO', 'ABOR',
  'DELE', 'MKD', 'RMD', 'RNFR', 'RNTO', 'SIZE', 'MDTM', 'MFMT', 'HASH',
  'FEAT', 'OPTS', 'SYST', 'NOOP', 'HELP', 'SITE', 'HOST', 'LANG', 'CLNT',
  'AUTH', 'PBSZ', 'PROT', 'CCC',
  'SMNT', // RFC 959, not implemented: known, so 502 rather than 500
] as const; // prettier-ignore

export type Verb = (typeof verbs)[number];

/** RFC 775 X-verbs: the same command under an older name. */
export const ALIASES: Readonly<Record<string, Verb>> = {
  XPWD: 'PWD',
  XCWD: 'CWD',
  XCUP: 'CDUP',
  XMKD: 'MKD',
  XRMD: 'RMD',
};

type NoArgs = Readonly<Record<never, never>>;
type PathArg = { readonly path: string };

/** RFC 959 TYPE: representation type and its optional parameter. */
export type TypeArg =
  | { readonly type: 'A' | 'E'; readonly format: 'N' | 'T' | 'C' | undefined }
  | { readonly type: 'I' }
  | { readonly type: 'L'; readonly byteSize: number };

export type OptsArg =
  | { readonly name: 'UTF8'; readonly on: boolean }
  | { readonly name: 'MLST'; readonly facts: ReadonlySet<MlstFact> }
  /** `OPTS HASH` asks which algorithm is selected (undefined); `OPTS HASH SHA-512` selects one. */
  | { readonly name: 'HASH'; readonly algorithm: HashAlgorithm | undefined };

export type SiteArg =
  | { readonly name: 'HELP' }
  | { readonly name: 'CHMOD'; readonly mode: number; readonly path: string }
  /** z/OS data-set attributes (`SITE LRECL=80 RECFM=FB`): nothing here needs them (202). */
  | { readonly name: 'DATASET'; readonly attributes: string };

export type AuthMechanism = 'TLS' | 'SSL' | 'TLS-C' | 'TLS-P';

/** The parsed arguments of each verb. */
export interface CommandArgs {
  USER: { readonly username: string };
  PASS: { readonly password: string };
  ACCT: NoArgs;
  QUIT: NoArgs;
  REIN: NoArgs;
  PWD: NoArgs;
  /** No argument means `/`. */
  CWD: PathArg;
  CDUP: NoArgs;
  TYPE: TypeArg;
  MODE: { readonly mode: 'S' | 'B' | 'C' | 'Z' };
  STRU: { readonly structure: 'F' | 'R' | 'P' };
  PASV: NoArgs;
  EPSV: { readonly epsv: EpsvArg };
  PORT: { readonly host: string; readonly port: number };
  EPRT: { readonly eprt: EprtArg };
  /** LIST/NLST/STAT: verbatim, possibly empty, possibly with ls-style options (`-la dir`). */
  LIST: PathArg;
  NLST: PathArg;
  MLSD: PathArg;
  MLST: PathArg;
  STAT: PathArg;
  RETR: PathArg;
  STOR: PathArg;
  STOU: NoArgs;
  APPE: PathArg;
  REST: { readonly offset: number };
  /** `ALLO n [R m]`: checked, then ignored. */
  ALLO: NoArgs;
  ABOR: NoArgs;
  DELE: PathArg;
  MKD: PathArg;
  RMD: PathArg;
  RNFR: PathArg;
  RNTO: PathArg;
  SIZE: PathArg;
  /**
   * `modified` for the old set-form `MDTM YYYYMMDDHHMMSS path` (vsftpd): then it acts as MFMT, unless
   * `whole`, the argument as one name, names a file (its time is read: curl -R and lftp ask so).
   */
  MDTM: { readonly path: string; readonly modified?: Date; readonly whole?: string };
  MFMT: { readonly modified: Date; readonly path: string };
  HASH: PathArg;
  FEAT: NoArgs;
  OPTS: { readonly option: OptsArg };
  SYST: NoArgs;
  NOOP: NoArgs;
  /** Upper case; empty for the general help. */
  HELP: { readonly topic: string };
  SITE: { readonly site: SiteArg };
  HOST: { readonly host: string };
  LANG: { readonly tag: string };
  /** The client's name (FileZilla, curl -Q): any text. */
  CLNT: { readonly client: string };
  SMNT: NoArgs;
  AUTH: { readonly mechanism: AuthMechanism };
  PBSZ: { readonly size: number };
  PROT: { readonly level: 'C' | 'S' | 'E' | 'P' };
  CCC: NoArgs;
}

/** One command: its verb, the argument text as sent (for logs and messages), and parsed arguments. */
export type CommandOf<V extends Verb> = { readonly verb: V; readonly arg: string } & CommandArgs[V];
export type Command = { [V in Verb]: CommandOf<V> }[Verb];

export type ParsedLine =
  | { readonly kind: 'command'; readonly command: Command }
  /** A known verb with arguments it cannot take: `code` is 501 (syntax) or 504 (unsupported parameter). */
  | {
      readonly kind: 'bad-argument';
      readonly verb: Verb;
      readonly arg: string;
      readonly code: BadCode;
      readonly reason: string;
    }
  | { readonly kind: 'unknown'; readonly verb: string }
  | { readonly kind: 'invalid'; readonly reason: string };

type BadCode = typeof Code.SyntaxError | typeof Code.SyntaxErrorArgs | typeof Code.NotImplementedForParam;

class Bad {
  constructor(
    readonly code: BadCode,
    readonly reason: string,
  ) {}
}

const syntax = (reason: string): Bad => new Bad(Code.SyntaxErrorArgs, reason);
const unsupported = (reason: string): Bad => new Bad(Code.NotImplementedForParam, reason);
/** RFC 959 5.4 gives SITE 500 for what it does not understand (504 is not among its codes). */
const notUnderstood = (reason: string): Bad => new Bad(Code.SyntaxError, reason);

/**
 * Data-set attributes a z/OS client sends before a transfer (`SITE LRECL=80 RECFM=FB BLKSIZE=3120`,
 * `SITE TRACKS PRIMARY=10`): they shape an MVS data set, and a file here is a byte stream.
 */
const DATASET_ATTRIBUTES: ReadonlySet<string> = new Set([
  'LRECL',
  'RECFM',
  'BLKSIZE',
  'BLOCKSIZE',
  'TRACKS',
  'CYLINDERS',
  'PRIMARY',
  'SECONDARY',
  'UNIT',
  'VOLUME',
  'DIRECTORY',
  'FILETYPE',
]);

/** Each word an attribute above (`KEY` or `KEY=value`); FILETYPE only as SEQ (JES would run jobs). */
function datasetAttributes(words: readonly string[]): boolean {
  return words.every((word) => {
    const [key = '', value] = word.toUpperCase().split('=', 2);
    if (!DATASET_ATTRIBUTES.has(key)) return false;
    return key === 'FILETYPE' ? value === 'SEQ' : true;
  });
}

type ArgParser<V extends Verb> = (arg: string, verb: string) => CommandArgs[V] | Bad;

const none = (arg: string, verb: string): NoArgs | Bad =>
  arg.trim() === '' ? {} : syntax(`${verb} takes no argument.`);
/** Arguments are accepted and ignored (ACCT, QUIT, ABOR, STOU: nothing in them matters to us). */
const ignored = (): NoArgs => ({});
const path = (arg: string, verb: string): PathArg | Bad =>
  arg.length === 0 ? syntax(`${verb} needs a path.`) : { path: arg };
const optionalPath = (arg: string): PathArg => ({ path: arg });
const word = (arg: string): string => arg.trim().toUpperCase().replace(/\s+/g, ' ');

function parseType(arg: string): TypeArg | Bad {
  const t = word(arg);
  if (t === '') return syntax('TYPE needs A, I or L 8.');
  const [code = '', param, ...extra] = t.split(' ');
  if (extra.length > 0) return syntax(`TYPE ${arg} has too many parameters.`);
  switch (code) {
    case 'A':
    case 'E':
      if (param !== undefined && param !== 'N' && param !== 'T' && param !== 'C')
        return syntax(`TYPE ${code} takes N, T or C.`);
      return { type: code, format: param };
    case 'I':
      return param === undefined ? { type: 'I' } : syntax('TYPE I takes no parameter.');
    case 'L':
      return param !== undefined && /^\d{1,3}$/.test(param)
        ? { type: 'L', byteSize: Number(param) }
        : syntax('TYPE L needs a byte size (L 8).');
    default:
      // `TYPE L8`, without the space: vsftpd, pyftpdlib and Pure-FTPd take it.
      if (param === undefined && /^L\d{1,3}$/.test(code))
        return { type: 'L', byteSize: Number(code.slice(1)) };
      return unsupported(`TYPE ${arg.trim()} not supported.`);
  }
}

function oneOf<T extends string>(allowed: readonly T[], what: string) {
  return (arg: string, verb: string): T | Bad => {
    const v = word(arg);
    if (v === '') return syntax(`${verb} needs ${what}.`);
    return (allowed as readonly string[]).includes(v)
      ? (v as T)
      : unsupported(`${verb} ${arg.trim()} not supported.`);
  };
}

const modeOf = oneOf(['S', 'B', 'C', 'Z'] as const, 'a transfer mode (S)');
const structureOf = oneOf(['F', 'R', 'P'] as const, 'a file structure (F)');
const levelOf = oneOf(['C', 'S', 'E', 'P'] as const, 'a protection level (C or P)');

function parseMfmt(arg: string, verb: string): CommandArgs['MFMT'] | Bad {
  const space = arg.indexOf(' ');
  const modified = space > 0 ? parseTimeVal(arg.slice(0, space)) : undefined;
  const path = space > 0 ? arg.slice(space + 1) : '';
  if (!modified || path.length === 0) return syntax(`${verb} needs YYYYMMDDHHMMSS and a path.`);
  return { modified, path };
}

/** What makes an MDTM argument the set-form: 14 digits (and a fraction), a space, more (vsftpd's rule). */
const MDTM_SET_FORM = /^\d{14}(?:\.\d+)? ./;

/**
 * `MDTM path` reads the time; `MDTM 20200101120000 path` sets it, as vsftpd and Total Commander
 * do, unless a file has that whole name (then its time is read; see the handler).
 */
function parseMdtm(arg: string, verb: string): CommandArgs['MDTM'] | Bad {
  if (!MDTM_SET_FORM.test(arg)) return path(arg, verb);
  const set = parseMfmt(arg, verb);
  return 'modified' in set ? { ...set, whole: arg } : set;
}

function parseOpts(arg: string): CommandArgs['OPTS'] | Bad {
  const [name = '', ...rest] = arg.trim().split(/\s+/);
  if (name === '') return syntax('OPTS needs an option: UTF8, MLST or HASH.');
  switch (name.toUpperCase()) {
    case 'UTF8':
    case 'UTF-8':
      return { option: { name: 'UTF8', on: (rest[0] ?? 'ON').toUpperCase() !== 'OFF' } };
    case 'MLST':
      return { option: { name: 'MLST', facts: parseMlstOpts(rest.join(' ')) } };
    case 'HASH': {
      if (rest.length === 0) return { option: { name: 'HASH', algorithm: undefined } };
      const algorithm = parseHashAlgorithm(rest.join(' '));
      return algorithm
        ? { option: { name: 'HASH', algorithm } }
        : syntax(`Unknown hash algorithm: ${rest.join(' ')}.`);
    }
    default:
      return syntax(`OPTS ${name} not understood.`);
  }
}

function parseSite(arg: string): CommandArgs['SITE'] | Bad {
  const [sub = '', modeText = '', ...rest] = arg.split(' ');
  switch (sub.toUpperCase()) {
    case '':
      return syntax('SITE needs a subcommand (SITE HELP lists them).');
    case 'HELP':
      return { site: { name: 'HELP' } };
    case 'CHMOD': {
      const mode = parseChmodMode(modeText);
      const path = rest.join(' ');
      if (mode === undefined || path.length === 0)
        return syntax('SITE CHMOD needs an octal mode and a path.');
      return { site: { name: 'CHMOD', mode, path } };
    }
    default: {
      const words = arg.split(' ').filter((w) => w.length > 0);
      if (datasetAttributes(words)) return { site: { name: 'DATASET', attributes: words.join(' ') } };
      return notUnderstood(`SITE ${sub} not understood (SITE HELP lists the subcommands).`);
    }
  }
}

const authMechanisms: readonly string[] = ['TLS', 'SSL', 'TLS-C', 'TLS-P'];

const parsers: { readonly [V in Verb]: ArgParser<V> } = {
  USER: (arg) => (arg.length === 0 ? syntax('USER needs a user name.') : { username: arg }),
  PASS: (arg) => ({ password: arg }),
  ACCT: ignored,
  QUIT: ignored,
  REIN: none,
  PWD: none,
  CWD: (arg) => ({ path: arg.length === 0 ? '/' : arg }),
  CDUP: none,
  TYPE: parseType,
  MODE: (arg, verb) => {
    const mode = modeOf(arg, verb);
    return mode instanceof Bad ? mode : { mode };
  },
  STRU: (arg, verb) => {
    const structure = structureOf(arg, verb);
    return structure instanceof Bad ? structure : { structure };
  },
  PASV: none,
  EPSV: (arg) => {
    const epsv = parseEpsvArg(arg);
    return epsv ? { epsv } : syntax('EPSV argument must be 1, 2 or ALL.');
  },
  PORT: (arg) => parsePortArg(arg) ?? syntax('PORT argument must be h1,h2,h3,h4,p1,p2.'),
  EPRT: (arg) => {
    const eprt = parseEprtArg(arg);
    return eprt ? { eprt } : syntax('EPRT argument must be |proto|address|port|.');
  },
  LIST: optionalPath,
  NLST: optionalPath,
  MLSD: optionalPath,
  MLST: optionalPath,
  STAT: optionalPath,
  RETR: path,
  STOR: path,
  STOU: ignored,
  APPE: path,
  REST: (arg) =>
    /^\d{1,15}$/.test(arg.trim()) ? { offset: Number(arg.trim()) } : syntax('REST needs a byte offset.'),
  ALLO: (arg) => (/^\d{1,20}(?: +R +\d{1,20})?$/i.test(arg.trim()) ? {} : syntax('ALLO needs a byte count.')),
  ABOR: ignored,
  DELE: path,
  MKD: path,
  RMD: path,
  RNFR: path,
  RNTO: path,
  SIZE: path,
  MDTM: parseMdtm,
  MFMT: parseMfmt,
  HASH: path,
  FEAT: none,
  OPTS: parseOpts,
  SYST: none,
  NOOP: none,
  HELP: (arg) => ({ topic: word(arg) }),
  SITE: parseSite,
  HOST: (arg) => (arg.trim().length === 0 ? syntax('HOST needs a host name.') : { host: arg.trim() }),
  LANG: (arg) => ({ tag: arg.trim() }),
  CLNT: (arg) => ({ client: arg.trim() }),
  SMNT: ignored,
  // RFC 2228: no mechanism is a syntax error (501), an unknown one is not understood (504).
  AUTH: (arg) => {
    const mechanism = word(arg);
    if (mechanism === '') return syntax('AUTH needs a mechanism: TLS or SSL.');
    return authMechanisms.includes(mechanism)
      ? { mechanism: mechanism as AuthMechanism }
      : unsupported(`AUTH ${arg.trim()} not supported; use TLS or SSL.`);
  },
  PBSZ: (arg) =>
    /^\d{1,10}$/.test(arg.trim()) ? { size: Number(arg.trim()) } : syntax('PBSZ needs a number (0).'),
  PROT: (arg, verb) => {
    const level = levelOf(arg, verb);
    return level instanceof Bad ? level : { level };
  },
  CCC: none,
};

const verbSet: ReadonlySet<string> = new Set(verbs);

/** The command's verb for a word (any case, aliases resolved), or undefined when Ferry has no such verb. */
export function canonicalVerb(word: string): Verb | undefined {
  const w = word.toUpperCase();
  if (verbSet.has(w)) return w as Verb;
  return ALIASES[w];
}

/**
 * A verb: RFC 959's 3-4 letters, and extensions' letters and digits (XMD5, XSHA256). Anything
 * else (a digit first, punctuation, binary) is a syntax error rather than an unknown command.
 */
const verbPattern = /^[A-Za-z][A-Za-z0-9]{2,7}$/;

/** Parse one command line (without CRLF). */
export function parseCommand(line: string): ParsedLine {
  if (line.length === 0) return { kind: 'invalid', reason: 'Empty command.' };
  const space = line.indexOf(' ');
  const word = space < 0 ? line : line.slice(0, space);
  const arg = space < 0 ? '' : line.slice(space + 1);
  if (!verbPattern.test(word)) return { kind: 'invalid', reason: 'Syntax error, command unrecognized.' };
  const verb = canonicalVerb(word);
  if (!verb) return { kind: 'unknown', verb: word.toUpperCase() };
  const parsed = (parsers[verb] as ArgParser<Verb>)(arg, verb);
  if (parsed instanceof Bad)
    return { kind: 'bad-argument', verb, arg, code: parsed.code, reason: parsed.reason };
  // The parser table pairs each verb with its own argument type, which TypeScript cannot follow here.
  return { kind: 'command', command: { ...parsed, verb, arg } as Command };
}

/** For logs: a command line with any secret argument masked. */
export function redactCommand(verb: string, arg: string): string {
  if (verb === 'PASS' || verb === 'ACCT') return `${verb} ****`;
  return arg.length > 0 ? `${verb} ${arg}` : verb;
}
