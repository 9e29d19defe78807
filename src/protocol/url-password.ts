/**
 * The URL with any password replaced by `****` (for messages and logs), malformed text too (a `/`
 * in the password, `ftps:/` with one slash, another scheme, no scheme): everything from the first
 * `:` after the scheme to the LAST `@` is masked. An `@` in a path may mask more than the
 * password (`ftps://h:21/a@b` shows as `ftps://h:****@b`), never less.
 */
export function redactUrl(text: string): string {
  const span = passwordSpan(text);
  return span ? `${text.slice(0, span.start)}****${text.slice(span.end)}` : text;
}

/** Where redactUrl's mask goes: after the first `:` past the scheme, up to the last `@`. */
export function passwordSpan(text: string): { start: number; end: number } | undefined {
  const at = text.lastIndexOf('@');
  const colon = text.indexOf(':', /^[a-z][\w+.-]*:\/+/i.exec(text)?.[0].length ?? 0);
  return colon >= 0 && colon < at ? { start: colon + 1, end: at } : undefined;
}
