/**
 * Commands that FerryClient.send() does not pass through raw: each changes state the client keeps
 * (TLS, data protection, the login, binary transfers) or needs a data connection or an abort signal
 * of its own. The
 * kind says which; the library and the command line each tell the user, in their own terms, what to
 * use instead.
 */
export type ReservedKind =
  | 'auth'
  | 'protection'
  | 'login'
  | 'quit'
  | 'abort'
  | 'reinitialize'
  | 'clear-control'
  | 'download'
  | 'upload'
  | 'listing'
  | 'representation';

const RESERVED: Readonly<Record<string, ReservedKind>> = {
  AUTH: 'auth',
  PBSZ: 'protection',
  PROT: 'protection',
  USER: 'login',
  PASS: 'login',
  QUIT: 'quit',
  ABOR: 'abort',
  REIN: 'reinitialize',
  CCC: 'clear-control',
  RETR: 'download',
  STOR: 'upload',
  STOU: 'upload',
  APPE: 'upload',
  LIST: 'listing',
  NLST: 'listing',
  MLSD: 'listing',
  // The client sets TYPE I at login and transfers in it: a TYPE A sent raw would have the server
  // convert line ends in every later get() and put(), corrupting binary files without an error.
  TYPE: 'representation',
  MODE: 'representation',
  STRU: 'representation',
};

/** The verb of a command line, uppercase (`''` for an empty line). */
export function verbOf(line: string): string {
  return (line.trim().split(/\s+/)[0] ?? '').toUpperCase();
}

/** Whether (and why) a command line is reserved; undefined for commands send() passes through. */
export function reservedCommand(line: string): { verb: string; kind: ReservedKind } | undefined {
  const verb = verbOf(line);
  const kind = Object.hasOwn(RESERVED, verb) ? RESERVED[verb] : undefined;
  return kind === undefined ? undefined : { verb, kind };
}
