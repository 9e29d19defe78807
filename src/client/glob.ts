/**
 * Shell-style patterns for one path segment, as `ferry get` and `ferry put` expand them against a
 * remote listing or a local directory: `*` (any run of characters), `?` (one character), `[abc]`,
 * `[a-z]`, `[!abc]` / `[^abc]` (one character of, or not of, a set), and `\` to quote the next
 * character. Neither `*` nor `?` matches a leading `.` (as in a shell: `*` leaves hidden files out).
 */

/** Whether a segment has an unquoted wildcard (`*`, `?` or a complete `[...]`). */
export function hasWildcard(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?') return true;
    else if (c === '[' && classEnd(segment, i) > 0) return true;
  }
  return false;
}

/** The index of the `]` closing the class that opens at `start`, or -1 (then `[` is literal). */
function classEnd(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === '!' || p[i] === '^') i++;
  if (p[i] === ']') i++; // a leading ] is a member
  for (; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === ']') return i;
  }
  return -1;
}

/** A character as a literal in a unicode RegExp (`-` only needs it inside a class). */
function escapeRegExp(c: string, inClass = false): string {
  return (inClass && c === '-') || /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** A RegExp matching exactly the names the pattern matches. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRegExp(pattern[++i] as string);
    } else if (c === '*') {
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '[' && classEnd(pattern, i) > 0) {
      const end = classEnd(pattern, i);
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let set = '';
      for (let j = 0; j < body.length; j++) {
        const b = body[j] as string;
        if (b === '\\' && j + 1 < body.length) set += escapeRegExp(body[++j] as string, true);
        else if (b === '-' && j > 0 && j < body.length - 1) set += '-';
        else set += escapeRegExp(b, true);
      }
      re += `[${negate ? '^' : ''}${set}]`;
      i = end;
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(`^${re}$`, 'su');
}

/** A matcher for names: the pattern, and no hidden name unless the pattern starts with `.`. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const re = globRegExp(pattern);
  const hiddenToo = pattern.startsWith('.') || pattern.startsWith('\\.');
  return (name) => (hiddenToo || !name.startsWith('.')) && re.test(name);
}

/**
 * A segment without wildcards as the name it stands for: `\` before a wildcard character or a
 * backslash is removed (`x\[1\].gz` is `x[1].gz`); any other backslash is part of the name.
 */
export function unquote(segment: string): string {
  return segment.replace(/\\([*?[\]\\])/gu, '$1');
}
