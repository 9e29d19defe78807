import { defaultMode, formatMode, formatOctalMode, parsePermissionChars, type EntryType } from './mode.js';

/**
 * Directory listings. Server side: LIST (`ls -l`), NLST, MLSD/MLST facts (RFC 3659). Client side:
 * parsers for Unix `ls -l`, MS-DOS/IIS and MLSx lines. Formatters return one line WITHOUT CRLF.
 * All dates are UTC.
 */

export interface ListEntry {
  name: string;
  type: EntryType;
  size: number;
  modified: Date;
  /** Unix permission bits (type bits are ignored). */
  mode?: number;
  /** Symlink target, when known. */
  target?: string;
}

/**
 * An MLSx line parsed: the entry, all facts (lowercase names), and cdir/pdir for `.`/`..` entries.
 * `size` is null when the server sent no size (its size fact is off, or a directory's).
 */
export type MlsxEntry = Omit<ListEntry, 'size'> & {
  size: number | null;
  facts: Record<string, string>;
  dirKind?: 'cdir' | 'pdir';
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const HALF_YEAR_MS = 15_778_476_000; // 365.2425 days / 2, as GNU ls
const FUTURE_SLACK_MS = 60 * 60 * 1000; // tolerate small clock skew before switching to the year form
const DAY_MS = 24 * 60 * 60 * 1000;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** CR, LF and NUL cannot travel inside a listing line; show them as `?` like `ls -q`. */
function lineSafe(name: string): string {
  return /[\r\n\0]/.test(name) ? name.replace(/[\r\n\0]/g, '?') : name;
}

function validDate(d: Date): Date {
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

/** `ls -l` date column: `Nov 24 14:52` within about six months of `now`, else `Nov 24  2024`. */
export function formatListDate(date: Date, now: Date): string {
  const d = validDate(date);
  const mon = MONTHS[d.getUTCMonth()] ?? 'Jan';
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const age = now.getTime() - d.getTime();
  if (age < HALF_YEAR_MS && age > -FUTURE_SLACK_MS) {
    return `${mon} ${day} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  }
  return `${mon} ${day} ${String(d.getUTCFullYear()).padStart(5, ' ')}`;
}

/** One LIST line: `drwxr-xr-x 1 ftp ftp          4096 Nov 24 14:52 name` (name verbatim). */
export function formatListLine(e: ListEntry, now: Date): string {
  return listLineFormatter(now)(e);
}

/**
 * formatListLine for one listing: mode columns and date columns are computed once per distinct
 * value (a directory's entries share few of them), which matters for 10,000-entry listings.
 */
export function listLineFormatter(now: Date): (e: ListEntry) => string {
  const modes = new Map<number, string>();
  let dateKey = NaN;
  let dateText = '';
  return (e) => {
    const bits = e.mode ?? defaultMode(e.type);
    const modeKey = (e.type === 'dir' ? 0x10000 : e.type === 'link' ? 0x20000 : 0) | (bits & 0o7777);
    let mode = modes.get(modeKey);
    if (mode === undefined) {
      mode = formatMode(e.type, bits);
      modes.set(modeKey, mode);
    }
    const ms = validDate(e.modified).getTime();
    const age = now.getTime() - ms;
    // The minute, and which of the two forms applies (recent or not), decide the column.
    const key = Math.floor(ms / 60_000) * 2 + (age < HALF_YEAR_MS && age > -FUTURE_SLACK_MS ? 1 : 0);
    if (key !== dateKey) {
      dateKey = key;
      dateText = formatListDate(e.modified, now);
    }
    const size = String(Math.max(0, Math.trunc(e.size))).padStart(13, ' ');
    const line = `${mode} 1 ftp ftp ${size} ${dateText} ${lineSafe(e.name)}`;
    return e.type === 'link' && e.target !== undefined ? `${line} -> ${lineSafe(e.target)}` : line;
  };
}

/** One NLST line: the bare name. */
export function formatNlstLine(e: ListEntry): string {
  return lineSafe(e.name);
}

/** RFC 3659 time-val `YYYYMMDDHHMMSS[.sss]` in UTC (MLSx `modify`, MDTM). */
export function formatTimeVal(date: Date, millis = false): string {
  const d = validDate(date);
  const base =
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds());
  return millis ? `${base}.${String(d.getUTCMilliseconds()).padStart(3, '0')}` : base;
}

/** Parses an RFC 3659 time-val (UTC, optional fraction); undefined when malformed or out of range. */
export function parseTimeVal(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  // setUTCFullYear: Date.UTC takes a year below 100 for 19xx (0042 would be 1942).
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, Math.min(s, 59), ms);
  // Reject dates that rolled over (Feb 30 → Mar 2).
  return date.getUTCDate() === d ? date : undefined;
}

/** MLSx facts Ferry can produce, in output order. */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** Facts enabled until the client sends OPTS MLST. */
export const DEFAULT_MLST_FACTS: ReadonlySet<MlstFact> = new Set(MLST_FACTS);

/** FEAT parameters for MLST: every supported fact, enabled ones starred: `type*;size*;…;`. */
export function formatMlstFeat(
  enabled: ReadonlySet<string>,
  supported: readonly MlstFact[] = MLST_FACTS,
): string {
  return supported.map((f) => `${f}${enabled.has(f) ? '*' : ''};`).join('');
}

/**
 * Fact selection of `OPTS MLST type;size;` (argument after `MLST`). Case-insensitive; unsupported
 * facts are ignored (RFC 3659 7.9); an empty argument enables none.
 */
export function parseMlstOpts(arg: string, supported: readonly MlstFact[] = MLST_FACTS): Set<MlstFact> {
  const allowed = new Set<string>(supported);
  const wanted = new Set(
    arg
      .trim()
      .split(';')
      .map((f) => f.trim().toLowerCase())
      .filter((f) => f !== ''),
  );
  return new Set(MLST_FACTS.filter((f) => wanted.has(f) && allowed.has(f)));
}

/** Text of the 200 reply to OPTS MLST: `MLST OPTS type;size;`. */
export function formatMlstOptsReply(enabled: ReadonlySet<string>): string {
  const list = MLST_FACTS.filter((f) => enabled.has(f))
    .map((f) => `${f};`)
    .join('');
  return list === '' ? 'MLST OPTS' : `MLST OPTS ${list}`;
}

export interface MlsxFormatOptions {
  /** Enabled fact names (lowercase), e.g. DEFAULT_MLST_FACTS or the result of parseMlstOpts. */
  readonly facts: ReadonlySet<string>;
  /** The `perm` fact value computed by the caller (RFC 3659 7.5.5), e.g. `adfrw`. */
  readonly perm: string;
  readonly unique?: string;
  /** For MLSD's entries describing the listed directory (`cdir`) or its parent (`pdir`). */
  readonly dirKind?: 'cdir' | 'pdir';
  /** Append `.sss` to `modify`. */
  readonly millis?: boolean;
}

function mlsxType(e: ListEntry, dirKind: 'cdir' | 'pdir' | undefined): string {
  if (dirKind) return dirKind;
  if (e.type === 'dir') return 'dir';
  if (e.type === 'file') return 'file';
  // A target with ';' would end the fact early, so fall back to the target-less form.
  return e.target !== undefined && !/[;\r\n\0]/.test(e.target)
    ? `OS.unix=slink:${e.target}`
    : 'OS.unix=symlink';
}

/** One MLSD line (or MLST line, to which the caller adds the leading space): `type=file;size=1; name`. */
export function formatMlsxFacts(e: ListEntry, opts: MlsxFormatOptions): string {
  return mlsxFormatter(opts.facts, opts.millis)(e, opts);
}

/**
 * formatMlsxFacts for one listing: the facts chosen once, and the `modify` and `unix.mode` texts
 * computed once per distinct value (a directory's entries share many), which matters for
 * 10,000-entry listings.
 */
export function mlsxFormatter(
  facts: ReadonlySet<string>,
  millis = false,
): (e: ListEntry, o: Omit<MlsxFormatOptions, 'facts' | 'millis'>) => string {
  const [type, size, modify, perm, unique, mode] = MLST_FACTS.map((f) => facts.has(f));
  const modes = new Map<number, string>();
  let timeKey = NaN;
  let timeText = '';
  return (e, o) => {
    let out = '';
    if (type) out += `type=${mlsxType(e, o.dirKind)};`;
    if (size && e.type !== 'dir') out += `size=${Math.max(0, Math.trunc(e.size))};`;
    const ms = e.modified.getTime();
    if (modify && !Number.isNaN(ms)) {
      const key = millis ? ms : Math.floor(ms / 1000);
      if (key !== timeKey) {
        timeKey = key;
        timeText = formatTimeVal(e.modified, millis);
      }
      out += `modify=${timeText};`;
    }
    if (perm) out += `perm=${o.perm};`;
    if (unique && o.unique !== undefined) out += `unique=${o.unique};`;
    if (mode && e.mode !== undefined) {
      let text = modes.get(e.mode);
      if (text === undefined) {
        text = formatOctalMode(e.mode);
        modes.set(e.mode, text);
      }
      out += `unix.mode=${text};`;
    }
    return `${out} ${lineSafe(e.name)}`;
  };
}

/** True for MLSD cdir/pdir entries and for LIST/NLST `.` and `..`: clients usually skip them. */
export function isSelfOrParent(e: { readonly name: string; readonly dirKind?: 'cdir' | 'pdir' }): boolean {
  return e.dirKind !== undefined || e.name === '.' || e.name === '..';
}

/** Parses one MLSD line, or an MLST line after the caller removed its leading space. */
export function parseMlsxLine(line: string): MlsxEntry | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const sp = text.indexOf(' ');
  if (sp < 0) return undefined;
  const name = text.slice(sp + 1);
  if (name === '') return undefined;
  const facts: Record<string, string> = {};
  for (const fact of text.slice(0, sp).split(';')) {
    if (fact === '') continue;
    const eq = fact.indexOf('=');
    if (eq <= 0) return undefined;
    facts[fact.slice(0, eq).toLowerCase()] = fact.slice(eq + 1);
  }
  const typeValue = (facts['type'] ?? 'file').toLowerCase();
  let type: EntryType = 'file';
  let dirKind: 'cdir' | 'pdir' | undefined;
  let target: string | undefined;
  if (typeValue === 'dir') type = 'dir';
  else if (typeValue === 'cdir' || typeValue === 'pdir') {
    type = 'dir';
    dirKind = typeValue;
  } else if (typeValue.startsWith('os.unix=slink') || typeValue === 'os.unix=symlink') {
    type = 'link';
    const raw = facts['type'] ?? '';
    const colon = raw.indexOf(':');
    if (colon >= 0 && raw.slice(colon + 1) !== '') target = raw.slice(colon + 1);
  } else if (typeValue === 'os.unix=dir' || typeValue === 'os.unix=directory') type = 'dir';
  const sizeText = facts['size'] ?? facts['sizd'];
  const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
  const modify = facts['modify'];
  // Epoch when the server sent no (valid) modify fact: ListEntry always has a date.
  const modified = (modify !== undefined ? parseTimeVal(modify) : undefined) ?? new Date(0);
  const modeText = facts['unix.mode'];
  const entry: MlsxEntry = { name, type, size, modified, facts };
  // Octal as `644`, `0644` or, from pyftpdlib, Python's `0o644`.
  const octal = modeText === undefined ? undefined : /^(?:0o)?([0-7]{1,6})$/i.exec(modeText)?.[1];
  if (octal !== undefined) entry.mode = Number.parseInt(octal, 8) & 0o7777;
  if (target !== undefined) entry.target = target;
  if (dirKind !== undefined) entry.dirKind = dirKind;
  return entry;
}

// Unix `ls -l`: type+perms, optional link count, owner [group], size (or `major, minor`), date, name.
// The name is what follows the ONE space after the time/year, so leading spaces survive. The `s`
// flag: `.` takes every character of a name, U+2028 and U+2029 included (without it such a name's
// line matched nothing and the file vanished from the listing).
const unixHead = String.raw`^([-bcdlpsD])([-rwxsStTl]{9})[+.@]?\s+(?:(\d+)\s+)?(\S+(?:\s+\S+)*?)\s+(\d+|\d+,\s*\d+)\s+`;
const unixClassic = new RegExp(
  unixHead + String.raw`([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}(?::\d{2})?|\d{4})\s(.*)$`,
  's',
);
const unixIso = new RegExp(
  unixHead + String.raw`(\d{4})-(\d{2})-(\d{2})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s(.*)$`,
  's',
);
// MS-DOS / IIS: `11-24-26  02:52PM       <DIR>          name`, `11-24-2026  14:52  12345 name`.
const dosPattern =
  /^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(?:<DIR>\s+|([\d,]+) )(.+)$/s;

function monthIndex(name: string): number {
  const lower = name.toLowerCase();
  return MONTHS.findIndex((m) => m.toLowerCase() === lower);
}

function unixEntry(
  typeChar: string,
  perms: string,
  sizeText: string,
  modified: Date,
  rawName: string,
): ListEntry | undefined {
  if (rawName === '' || Number.isNaN(modified.getTime())) return undefined;
  const type: EntryType = typeChar === 'd' ? 'dir' : typeChar === 'l' ? 'link' : 'file';
  let name = rawName;
  let target: string | undefined;
  if (type === 'link') {
    const arrow = rawName.indexOf(' -> ');
    if (arrow >= 0) {
      name = rawName.slice(0, arrow);
      target = rawName.slice(arrow + 4);
    }
  }
  // Devices show `major, minor` instead of a size.
  const size = /^\d+$/.test(sizeText) ? Number(sizeText) : 0;
  const entry: ListEntry = { name, type, size, modified };
  const mode = parsePermissionChars(perms);
  if (mode !== undefined) entry.mode = mode;
  if (target !== undefined) entry.target = target;
  return entry;
}

function validParts(mon: number, day: number, h: number, mi: number, s = 0): boolean {
  return mon >= 0 && mon <= 11 && day >= 1 && day <= 31 && h <= 23 && mi <= 59 && s <= 59;
}

/**
 * Parses one line of a LIST reply (Unix `ls -l` or MS-DOS/IIS). Undefined for `total N`, blank or
 * unknown lines. A time without a year is placed in the year that keeps it at most a day after `now`.
 */
export function parseListLine(line: string, now: Date = new Date()): ListEntry | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  let m = unixClassic.exec(text);
  if (m) {
    const [, typeChar = '', perms = '', , , sizeText = '', monName = '', dayText = '', when = '', name = ''] =
      m;
    const mon = monthIndex(monName);
    const day = Number(dayText);
    let modified: Date;
    if (when.includes(':')) {
      const [h = 0, mi = 0, s = 0] = when.split(':').map(Number);
      if (!validParts(mon, day, h, mi, s)) return undefined;
      let year = now.getUTCFullYear();
      modified = new Date(Date.UTC(year, mon, day, h, mi, s));
      if (modified.getTime() > now.getTime() + DAY_MS) {
        year--;
        modified = new Date(Date.UTC(year, mon, day, h, mi, s));
      }
    } else {
      if (!validParts(mon, day, 0, 0)) return undefined;
      modified = new Date(Date.UTC(Number(when), mon, day));
    }
    return unixEntry(typeChar, perms, sizeText, modified, name);
  }
  m = unixIso.exec(text);
  if (m) {
    const [
      ,
      typeChar = '',
      perms = '',
      ,
      ,
      sizeText = '',
      y = '',
      mo = '',
      d = '',
      h = '',
      mi = '',
      s,
      name = '',
    ] = m;
    const parts = [Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0)] as const;
    if (!validParts(...parts)) return undefined;
    return unixEntry(typeChar, perms, sizeText, new Date(Date.UTC(Number(y), ...parts)), name);
  }
  m = dosPattern.exec(text);
  if (m) {
    const [, mo = '', d = '', y = '', hText = '', mi = '', ampm, sizeText, name = ''] = m;
    let year = Number(y);
    if (y.length === 2) year += year < 70 ? 2000 : 1900;
    let h = Number(hText);
    if (ampm !== undefined) {
      if (h < 1 || h > 12) return undefined;
      h = (h % 12) + (ampm.toUpperCase() === 'PM' ? 12 : 0);
    }
    const mon = Number(mo) - 1;
    if (!validParts(mon, Number(d), h, Number(mi))) return undefined;
    const modified = new Date(Date.UTC(year, mon, Number(d), h, Number(mi)));
    if (sizeText === undefined) return { name, type: 'dir', size: 0, modified };
    return { name, type: 'file', size: Number(sizeText.replaceAll(',', '')), modified };
  }
  return undefined;
}
