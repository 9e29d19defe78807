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
function classEnd(p: ArrayLike<string>, start: number): number {
  let i = start + 1;
  if (p[i] === '!' || p[i] === '^') i++;
  if (p[i] === ']') i++; // a leading ] is a member
  for (; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === ']') return i;
  }
  return -1;
}

type Token =
  | { readonly kind: 'char'; readonly c: string }
  | { readonly kind: 'one' }
  | { readonly kind: 'set'; readonly negate: boolean; readonly has: (c: string) => boolean }
  | { readonly kind: 'star' };

/** The pattern as tokens, one per character of a name it matches (`*`: any run). */
function tokenize(pattern: string): Token[] {
  const p = [...pattern]; // code points: `?` is one character, as a name's
  const tokens: Token[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\' && i + 1 < p.length) tokens.push({ kind: 'char', c: p[++i] as string });
    else if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' }); // ** is *
    } else if (c === '?') tokens.push({ kind: 'one' });
    else if (c === '[' && classEnd(p, i) > 0) {
      const end = classEnd(p, i);
      tokens.push(classToken(p.slice(i + 1, end)));
      i = end;
    } else tokens.push({ kind: 'char', c });
  }
  return tokens;
}

/** `[...]`'s body (between the brackets) as a set of characters and ranges. */
function classToken(body: string[]): Token {
  let negate = false;
  if (body[0] === '!' || body[0] === '^') {
    negate = true;
    body = body.slice(1);
  }
  const singles = new Set<string>();
  const ranges: [string, string][] = [];
  for (let j = 0; j < body.length; j++) {
    let b = body[j] as string;
    if (b === '\\' && j + 1 < body.length) b = body[++j] as string;
    else if (body[j + 1] === '-' && j + 2 < body.length) {
      let hi = body[j + 2] as string;
      j += 2;
      if (hi === '\\' && j + 1 < body.length) hi = body[++j] as string;
      ranges.push([b, hi]);
      continue;
    }
    singles.add(b);
  }
  const has = (c: string): boolean => singles.has(c) || ranges.some(([lo, hi]) => lo <= c && c <= hi);
  return { kind: 'set', negate, has };
}

function matchesOne(t: Token, c: string): boolean {
  if (t.kind === 'char') return t.c === c;
  if (t.kind === 'one') return true;
  if (t.kind === 'set') return t.has(c) !== t.negate;
  return false;
}

/**
 * Whether `name` matches the tokens. Linear in the name for each `*` (the classic greedy match
 * that backs up to the last star), never exponential: a server matches patterns its clients send.
 */
function matchTokens(tokens: readonly Token[], name: string): boolean {
  const s = [...name];
  let p = 0;
  let i = 0;
  let star = -1;
  let from = 0;
  while (i < s.length) {
    const t = tokens[p];
    if (t !== undefined && t.kind !== 'star' && matchesOne(t, s[i] as string)) {
      p++;
      i++;
    } else if (t?.kind === 'star') {
      star = p++;
      from = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++from;
    } else return false;
  }
  while (tokens[p]?.kind === 'star') p++;
  return p === tokens.length;
}

/** Whether a pattern may match hidden names (dot-files): it starts with `.`, as in a shell. */
export function matchesHidden(pattern: string): boolean {
  return pattern.startsWith('.') || pattern.startsWith('\\.');
}

/**
 * A matcher for names: the pattern, and no hidden name unless the pattern starts with `.` or
 * `hidden` is set (a mirror's `--exclude '*~'` means `.x~` too, as in rsync).
 */
export function globMatcher(pattern: string, o: { hidden?: boolean } = {}): (name: string) => boolean {
  const tokens = tokenize(pattern);
  const hiddenToo = (o.hidden ?? false) || matchesHidden(pattern);
  return (name) => (hiddenToo || !name.startsWith('.')) && matchTokens(tokens, name);
}

/**
 * A segment without wildcards as the name it stands for: `\` before a wildcard character or a
 * backslash is removed (`x\[1\].gz` is `x[1].gz`); any other backslash is part of the name.
 */
export function unquote(segment: string): string {
  return segment.replace(/\\([*?[\]\\])/gu, '$1');
}
