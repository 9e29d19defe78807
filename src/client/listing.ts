import { FerryError, ReplyError } from '../errors.js';
import {
  isSelfOrParent,
  parseListLine,
  parseMlsxLine,
  parseTimeVal,
  type ListEntry,
} from '../protocol/listing.js';
import { collector } from './streams.js';
import { command, pathArg, transfer, type ClientSession } from './session.js';
import { remoteBasename } from './url.js';
import { Code } from '../protocol/codes.js';
import { isPositiveCompletion, replyLine } from '../protocol/reply.js';

/**
 * Directory listings (MLSD, else LIST in Unix or MS-DOS form) and what is known about one path
 * (MLST, else SIZE/MDTM/CWD).
 */

/** A listing entry; `modifiedPrecisionMs` says how exact `modified` is (LIST shows minutes or days). */
export interface RemoteEntry extends ListEntry {
  readonly modifiedPrecisionMs: number;
}

/** The precision of a LIST line's date: minutes when it shows a time, else days. */
function listPrecision(line: string): number {
  return /\s\d{1,2}:\d{2}(?::\d{2})?\s/.test(line) ? 60_000 : 86_400_000;
}

/** Parses MLSD output into entries (without `.`/`..`). */
export function parseMlsdText(text: string): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseMlsxLine(line);
    if (!e || isSelfOrParent(e)) continue;
    const { facts: _f, dirKind: _d, ...entry } = e;
    out.push({
      ...entry,
      modifiedPrecisionMs: e.facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
    });
  }
  return out;
}

/** Parses LIST output (Unix `ls -l` or MS-DOS/IIS) into entries (without `.`/`..`). */
export function parseListText(text: string, now: Date = new Date()): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const e = parseListLine(line, now);
    if (!e || isSelfOrParent(e)) continue;
    out.push({ ...e, modifiedPrecisionMs: /<DIR>|^\d/.test(line) ? 60_000 : listPrecision(line) });
  }
  return out;
}

/** MLSD/MLST: RFC 3659 servers announce `MLST` in FEAT; MLSD comes with it (some also list MLSD). */
function machineListings(s: ClientSession): boolean {
  return s.featureMap.has('MLST') || s.featureMap.has('MLSD');
}

/** Lists a directory ('' = current): MLSD when offered, else LIST (parsed). */
export async function listDir(s: ClientSession, dir: string, signal?: AbortSignal): Promise<RemoteEntry[]> {
  pathArg(dir);
  if (machineListings(s)) {
    const c = collector();
    await transfer(
      s,
      dir === '' ? 'MLSD' : `MLSD ${dir}`,
      { direction: 'download', sink: c.sink },
      { signal },
    );
    return parseMlsdText(c.text());
  }
  // LIST arguments are options to some servers (`-l`, `-a`): change into the directory instead.
  const c = collector();
  if (dir === '' || s.home === undefined) {
    await transfer(
      s,
      dir === '' ? 'LIST' : `LIST ${dir}`,
      { direction: 'download', sink: c.sink },
      { signal },
    );
  } else {
    await command(s, `CWD ${dir}`);
    try {
      await transfer(s, 'LIST', { direction: 'download', sink: c.sink }, { signal });
    } finally {
      if (!s.control.failure) await command(s, `CWD ${s.home}`);
    }
  }
  return parseListText(c.text());
}

/** The unparsed text of a listing command (LIST, MLSD or NLST) for a directory ('' = current). */
export async function listRaw(
  s: ClientSession,
  dir: string,
  verb: 'LIST' | 'MLSD' | 'NLST',
  opts: { signal?: AbortSignal },
): Promise<string> {
  pathArg(dir);
  const c = collector();
  if (verb === 'MLSD' || dir === '' || s.home === undefined) {
    await transfer(s, dir === '' ? verb : `${verb} ${dir}`, { direction: 'download', sink: c.sink }, opts);
  } else {
    await command(s, `CWD ${dir}`);
    try {
      await transfer(s, verb, { direction: 'download', sink: c.sink }, opts);
    } finally {
      if (!s.control.failure) await command(s, `CWD ${s.home}`);
    }
  }
  return c.text();
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
    return {
      ...entry,
      name,
      modifiedPrecisionMs: facts['modify'] !== undefined ? 1000 : Number.POSITIVE_INFINITY,
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
      size: 0,
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
