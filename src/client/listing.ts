import { FerryError, ReplyError } from '../errors.js';
import {
  isSelfOrParent,
  parseListLine,
  parseMlsxLine,
  parseTimeVal,
  type ListEntry,
} from '../protocol/listing.js';
import { DEFAULTS } from './options.js';
import { collector, type ListingLimits } from './streams.js';
import { command, pathArg, transfer, type ClientSession } from './session.js';
import { remoteBasename } from './url.js';
import { Code } from '../protocol/codes.js';
import { listingProblem } from '../protocol/listing-reply.js';
import { isPermanentNegative, isPositiveCompletion, replyLine, type Reply } from '../protocol/reply.js';
import { IncompleteListingError } from './errors.js';

/**
 * Directory listings (MLSD, else LIST in Unix or MS-DOS form) and what is known about one path
 * (MLST, else SIZE/MDTM/CWD).
 */

/**
 * A listing entry; `size` is null when the server did not report one (an MLSD without the size
 * fact), `modifiedPrecisionMs` says how exact `modified` is (LIST shows minutes or days).
 */
export interface RemoteEntry extends Omit<ListEntry, 'size'> {
  size: number | null;
  readonly modifiedPrecisionMs: number;
  /** MLST's `unique` fact when the server sends it (stat() only): another for a file put in its place. */
  readonly unique?: string;
}

/** The MLSx facts the client reads: type, size, modify, unix.mode (ls), and perm (as lftp asks). */
const WANTED_FACTS: readonly string[] = ['type', 'size', 'modify', 'perm', 'unix.mode'];

/**
 * RFC 3659 7.9: a server sends only the facts that are on, starred in FEAT (`MLST type*;size;…`).
 * When some the client reads are offered but off (pyftpdlib set to `type;perm`: every size 0, a
 * mirror sending everything each time), select them with OPTS MLST, as lftp does. A refusal
 * leaves the listings as they are (those sizes are then unknown, not 0).
 */
export async function selectMlstFacts(s: ClientSession): Promise<void> {
  const offered = (s.featureMap.get('MLST') ?? '').split(';').map((f) => f.trim());
  const wanted = offered.filter((f) => WANTED_FACTS.includes(f.replace(/\*$/, '').toLowerCase()));
  if (wanted.every((f) => f.endsWith('*'))) return;
  await s.control.request(`OPTS MLST ${wanted.map((f) => `${f.replace(/\*$/, '')};`).join('')}`);
}

/** One listing's bounds: the session's options, else the defaults. */
export function listingLimits(s: ClientSession): ListingLimits {
  return {
    maxBytes: s.opts.maxListingBytes ?? DEFAULTS.maxListingBytes,
    maxEntries: s.opts.maxListingEntries ?? DEFAULTS.maxListingEntries,
  };
}

/** The precision of a LIST line's date: minutes when it shows a time, else days. */
function listPrecision(line: string): number {
  return /\s\d{1,2}:\d{2}(?::\d{2})?\s/.test(line) ? 60_000 : 86_400_000;
}

/** A line of a listing the client could not read: its entry is missing from the result. */
export type UnreadLine = (line: string) => void;

/** Parses MLSD output into entries (without `.`/`..`); `unread` is told of each line it cannot read. */
export function parseMlsdText(text: string, unread?: UnreadLine): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseMlsxLine(line);
    if (!e) unread?.(line);
    if (!e || isSelfOrParent(e)) continue;
    const { facts: _f, dirKind: _d, ...entry } = e;
    out.push({
      ...entry,
      modifiedPrecisionMs: e.facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
    });
  }
  return out;
}

/**
 * Parses LIST output (Unix `ls -l` or MS-DOS/IIS) into entries (without `.`/`..`); `unread` is told
 * of each line it cannot read (not of `total N`).
 */
export function parseListText(text: string, now: Date = new Date(), unread?: UnreadLine): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseListLine(line, now);
    if (!e && !/^total\s+\d+\s*$/i.test(line)) unread?.(line);
    if (!e || isSelfOrParent(e)) continue;
    out.push({ ...e, modifiedPrecisionMs: /<DIR>|^\d/.test(line) ? 60_000 : listPrecision(line) });
  }
  return out;
}

/** MLSD/MLST: RFC 3659 servers announce `MLST` in FEAT; MLSD comes with it (some also list MLSD). */
function machineListings(s: ClientSession): boolean {
  return s.featureMap.has('MLST') || s.featureMap.has('MLSD');
}

/** Whether a listing with `all` shows dot-files (see FerryClient.listsDotFiles). */
export function listsDotFiles(s: ClientSession): boolean | undefined {
  return machineListings(s) ? true : s.listAll;
}

/**
 * Lists a directory ('' = current): MLSD when offered, else LIST (parsed); `all`: LIST -a. A file's
 * path gives its one entry (fileListing) unless `directory` asks for a directory only.
 */
export async function listDir(
  s: ClientSession,
  dir: string,
  opts: { signal?: AbortSignal; all?: boolean; directory?: boolean; onUnreadLine?: UnreadLine } = {},
): Promise<RemoteEntry[]> {
  pathArg(dir);
  let entries: RemoteEntry[];
  try {
    if (machineListings(s))
      entries = parseMlsdText(await inDir(s, dir, 'MLSD', opts.signal), opts.onUnreadLine);
    else {
      const text = opts.all ? await listAll(s, dir, opts.signal) : await inDir(s, dir, 'LIST', opts.signal);
      entries = parseListText(text, new Date(), opts.onUnreadLine);
    }
  } catch (err) {
    const file =
      opts.directory || !refusedPath(s, dir, err) ? undefined : await fileListing(s, dir, opts.signal);
    if (file) return file;
    throw err;
  }
  if (opts.directory && (await listsItself(s, dir, entries)))
    throw new FerryError('ERR_NOT_DIRECTORY', `${dir} is a file, not a directory.`);
  return entries;
}

/**
 * Whether a listing of `dir` is the file `dir` itself rather than a directory's contents: `LIST
 * file` when the home is unknown (no CWD into it, which a file would refuse), an MLSD that lists a
 * file instead of refusing it. Its one entry has the path's name and is no directory, and the
 * server says the path is a file (MLST, else SIZE): a directory holding one file of its own name
 * is still listed.
 */
async function listsItself(s: ClientSession, dir: string, entries: readonly RemoteEntry[]): Promise<boolean> {
  if (dir === '' || !soleEntryNamed(entries, dir)) return false;
  if (s.featureMap.has('MLST')) {
    const type = await statPath(s, dir).then(
      (x) => x.type,
      (err: unknown) => {
        // No answer to read (a refusal, a reply it cannot parse): the listing stands.
        if (s.control.failure) throw err;
        return undefined;
      },
    );
    return type !== undefined && type !== 'dir';
  }
  return (await s.control.request(`SIZE ${dir}`)).code === Code.FileStatus;
}

/** A listing's only entry when it is no directory and is named as `path` (its last part, or whole). */
function soleEntryNamed(entries: readonly RemoteEntry[], path: string): RemoteEntry | undefined {
  const [e, more] = entries;
  if (!e || more || e.type === 'dir') return undefined;
  return e.name === remoteBasename(path) || e.name === path ? e : undefined;
}

/** The server refused to list `dir` (5xx to MLSD, or to CWD into it for LIST): maybe it is a file. */
function refusedPath(s: ClientSession, dir: string, err: unknown): boolean {
  return (
    dir !== '' &&
    err instanceof ReplyError &&
    !(err instanceof IncompleteListingError) &&
    isPermanentNegative({ code: err.replyCode, lines: [err.replyText] }) &&
    !s.control.failure
  );
}

/**
 * A file's path as a listing: its one entry, as LIST of a file gives (and basic-ftp's list()).
 * MLST where offered (MLSD of a file is refused: Ferry's 501, ProFTPD's 550), else LIST of the path
 * itself (CWD into a file is refused). Undefined when the path is no file: the refusal stands.
 */
async function fileListing(
  s: ClientSession,
  path: string,
  signal: AbortSignal | undefined,
): Promise<RemoteEntry[] | undefined> {
  const name = remoteBasename(path);
  try {
    if (machineListings(s)) {
      if (!s.featureMap.has('MLST')) return undefined;
      const { unique: _u, ...e } = await statPath(s, path);
      return e.type === 'dir' ? undefined : [e];
    }
    // A path starting with `-` would be an option to LIST (`-l`).
    if (path.startsWith('-')) return undefined;
    const c = collector(listingLimits(s));
    const { reply } = await transfer(s, `LIST ${path}`, { direction: 'download', sink: c.sink }, { signal });
    const entries = listingProblem(reply) ? [] : parseListText(c.text());
    // A directory's listing (one it would not enter) is no file's: its one entry must be the path.
    const e = soleEntryNamed(entries, path);
    return e && [{ ...e, name }];
  } catch (err) {
    if (err instanceof ReplyError) return undefined;
    throw err;
  }
}

/** A refusal of `LIST -a` that may mean "no such path `-a`" (IIS): worth a plain LIST. */
function refusesOption(err: unknown): boolean {
  if (!(err instanceof ReplyError)) return false;
  return (
    isPermanentNegative({ code: err.replyCode, lines: [err.replyText] }) ||
    err.replyCode === Code.FileUnavailableBusy
  );
}

/**
 * LIST with dot-files: Unix servers (vsftpd, ProFTPD, Pure-FTPd) leave them out of a plain LIST and
 * show them with `LIST -a` (lftp's ftp:list-options -a). A server that refuses `-a`, or lists
 * nothing for it where a plain LIST lists something, takes it as a path: plain LIST from then on.
 * `s.listAll` keeps what this connection learned.
 */
async function listAll(s: ClientSession, dir: string, signal?: AbortSignal): Promise<string> {
  if (s.listAll === false) return inDir(s, dir, 'LIST', signal);
  let text: string;
  try {
    text = await inDir(s, dir, 'LIST -a', signal);
  } catch (err) {
    if (s.listAll === true || !refusesOption(err) || s.control.failure) throw err;
    const plain = await inDir(s, dir, 'LIST', signal);
    s.listAll = false;
    return plain;
  }
  if (s.listAll === undefined) {
    // vsftpd, ProFTPD and Pure-FTPd show `.` and `..` with -a: an empty text is suspect.
    if (text.trim() !== '') s.listAll = true;
    else {
      const plain = await inDir(s, dir, 'LIST', signal);
      if (plain.trim() !== '') s.listAll = false;
      return plain;
    }
  }
  return text;
}

/**
 * A listing command's text for a directory ('' = current). LIST and NLST arguments are options to
 * some servers (`-l`, `-a`): they change into the directory instead, when the login directory is
 * known to come back to.
 */
async function inDir(s: ClientSession, dir: string, verb: string, signal?: AbortSignal): Promise<string> {
  const c = collector(listingLimits(s));
  const body = { direction: 'download', sink: c.sink } as const;
  let line: string;
  let done: Reply;
  if (verb === 'MLSD' || dir === '' || s.home === undefined) {
    line = dir === '' ? verb : `${verb} ${dir}`;
    done = (await transfer(s, line, body, { signal })).reply;
  } else {
    await command(s, `CWD ${dir}`);
    line = verb;
    try {
      done = (await transfer(s, verb, body, { signal })).reply;
    } finally {
      if (!s.control.failure) await command(s, `CWD ${s.home}`);
    }
  }
  // A 226 that says the directory was not read, or not all of it, is no listing of its contents.
  const problem = listingProblem(done);
  if (problem) throw new IncompleteListingError(problem, done, line, dir);
  return c.text();
}

/** The unparsed text of a listing command (LIST, MLSD or NLST) for a directory ('' = current). */
export async function listRaw(
  s: ClientSession,
  dir: string,
  verb: 'LIST' | 'MLSD' | 'NLST',
  opts: { signal?: AbortSignal },
): Promise<string> {
  pathArg(dir);
  return inDir(s, dir, verb, opts.signal);
}

/** Type, size and modification time of a path (MLST when offered, else SIZE/MDTM/CWD). */
export async function statPath(s: ClientSession, path: string): Promise<RemoteEntry> {
  pathArg(path);
  const name = remoteBasename(path);
  if (s.featureMap.has('MLST')) {
    const r = await command(s, `MLST ${path}`);
    const line = r.lines.slice(1, -1).find((l) => l.startsWith(' ')) ?? r.lines.slice(1, -1)[0];
    const e = line !== undefined ? parseMlsxLine(line.startsWith(' ') ? line.slice(1) : line) : undefined;
    if (!e) throw new FerryError('ERR_PROTOCOL', `Cannot read the MLST reply for ${path}.`);
    const { facts, dirKind: _d, ...entry } = e;
    const unique = facts['unique'];
    return {
      ...entry,
      name,
      modifiedPrecisionMs: facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
      ...(unique !== undefined && { unique }),
    };
  }
  const size = await s.control.request(`SIZE ${path}`);
  if (size.code === Code.FileStatus) {
    const mdtm = await s.control.request(`MDTM ${path}`);
    const modified = mdtm.code === Code.FileStatus ? parseTimeVal(replyLine(mdtm)) : undefined;
    return {
      name,
      type: 'file',
      size: Number(replyLine(size).trim()),
      modified: modified ?? new Date(0),
      modifiedPrecisionMs: modified ? 1000 : Number.POSITIVE_INFINITY,
    };
  }
  if (await isDirectory(s, path)) {
    return {
      name,
      type: 'dir',
      size: null,
      modified: new Date(0),
      modifiedPrecisionMs: Number.POSITIVE_INFINITY,
    };
  }
  throw new ReplyError(size.code, replyLine(size), `SIZE ${path}`);
}

export async function isDirectory(s: ClientSession, path: string): Promise<boolean> {
  if (s.featureMap.has('MLST')) {
    try {
      return (await statPath(s, path)).type === 'dir';
    } catch (err) {
      if (err instanceof ReplyError) return false;
      throw err;
    }
  }
  const r = await s.control.request(`CWD ${path}`);
  if (!isPositiveCompletion(r)) return false;
  if (s.home !== undefined) await command(s, `CWD ${s.home}`);
  return true;
}
