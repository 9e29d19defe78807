/** What an Authorization header can carry as a bearer token: printable ASCII, no space. */
export const BEARER_TOKEN = /^[\x21-\x7E]+$/;

/** Shorter tokens are refused: the admin listener compares digests, but a short secret is guessed. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Why `token` cannot be the admin token, or undefined. Never quotes it. A space or newline at an
 * end (a value pasted, a YAML block scalar) would be compared as written while a client's header
 * never carries it: every request would get 401 with nothing saying why.
 */
export function adminTokenProblem(token: string): string | undefined {
  if (token.trim() === '') return 'empty (or only spaces): set a random secret of 16 characters or more';
  if (!BEARER_TOKEN.test(token.trim()))
    return 'the token must be one line of printable characters without spaces (as sent in Authorization: Bearer)';
  if (token.trim() !== token)
    return 'has spaces or a newline at its start or end (quoted with them, or a YAML | block: use |- or a plain value); no client sends them';
  if (token.length < MIN_TOKEN_LENGTH) return `at least ${MIN_TOKEN_LENGTH} characters`;
  return undefined;
}
