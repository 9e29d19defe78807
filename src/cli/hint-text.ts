/**
 * A hint after what was said (a server's reply, a reason): `…; hint`, or, after a sentence that
 * ended (most replies do: `530 Login incorrect.`), a new sentence, never `incorrect.; if …`.
 */
export function withHint(said: string, hint: string): string {
  const text = said.trimEnd();
  if (!/[.!?]$/.test(text)) return `${text}; ${hint}`;
  return `${text} ${hint.charAt(0).toUpperCase()}${hint.slice(1)}`;
}
