/** Unix permission bits as text (`drwxr-xr-x`) and SITE CHMOD mode arguments. */

export type EntryType = 'file' | 'dir' | 'link';

const typeChars: Record<EntryType, string> = { file: '-', dir: 'd', link: 'l' };

/** Default permission bits when storage does not report any. */
export function defaultMode(type: EntryType): number {
  return type === 'dir' ? 0o755 : type === 'link' ? 0o777 : 0o644;
}

/**
 * `ls -l` mode column. Only the low 12 bits of `mode` are used, so a raw `st_mode` (with S_IFMT
 * type bits) is fine; setuid/setgid/sticky show as s/S and t/T like ls.
 */
export function formatMode(type: EntryType, mode: number): string {
  const m = mode & 0o7777;
  const triad = (shift: number, special: boolean, specialChar: string): string => {
    const bits = (m >> shift) & 7;
    const r = bits & 4 ? 'r' : '-';
    const w = bits & 2 ? 'w' : '-';
    const xBit = (bits & 1) !== 0;
    const x = special ? (xBit ? specialChar : specialChar.toUpperCase()) : xBit ? 'x' : '-';
    return r + w + x;
  };
  return (
    typeChars[type] +
    triad(6, (m & 0o4000) !== 0, 's') +
    triad(3, (m & 0o2000) !== 0, 's') +
    triad(0, (m & 0o1000) !== 0, 't')
  );
}

/** `ls -l` mode column for an entry whose permissions are unknown (`-?????????`, as `ls` shows it). */
export function formatUnknownMode(type: EntryType): string {
  return `${typeChars[type]}?????????`;
}

/**
 * Parses the 9 permission characters of an `ls -l` mode column (`rwxr-sr-T`). Returns the bits,
 * or undefined when the text is not a permission string.
 */
export function parsePermissionChars(perms: string): number | undefined {
  if (perms.length !== 9) return undefined;
  let mode = 0;
  const specials = [0o4000, 0o2000, 0o1000];
  for (let t = 0; t < 3; t++) {
    const r = perms[t * 3];
    const w = perms[t * 3 + 1];
    const x = perms[t * 3 + 2];
    const shift = 6 - t * 3;
    if (r === 'r') mode |= 4 << shift;
    else if (r !== '-') return undefined;
    if (w === 'w') mode |= 2 << shift;
    else if (w !== '-') return undefined;
    const special = specials[t] ?? 0;
    const specialLower = t === 2 ? 't' : 's';
    if (x === 'x') mode |= 1 << shift;
    else if (x === specialLower) mode |= special | (1 << shift);
    else if (x === specialLower.toUpperCase()) mode |= special;
    // 'l' is the mandatory-locking marker some systems print for setgid without group execute.
    else if (t === 1 && x === 'l') mode |= special;
    else if (x !== '-') return undefined;
  }
  return mode;
}

/**
 * SITE CHMOD mode argument: octal only (`755`, `0644`, `4755`). Symbolic modes (`u+x`) are not
 * supported and give undefined, as does anything above 0o7777.
 */
export function parseChmodMode(text: string): number | undefined {
  if (!/^[0-7]{1,4}$/.test(text)) return undefined;
  return Number.parseInt(text, 8);
}

/** A SITE CHMOD mode argument: octal, at least 3 digits (`040`, `644`, `4755`), as servers read it. */
export function formatChmodMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}

/** Octal text for a mode, e.g. for the MLSx `unix.mode` fact: `0644`. */
export function formatOctalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
