/**
 * A fast reading of the users file as `ferry users` writes it: block YAML, `users:` then `  - key:
 * value` entries whose values are scalars or one level of list or map. The `yaml` library takes
 * ~170 ms for 5,000 accounts, holding the event loop of the server and of every worker at each
 * change; this takes a few. Whatever it is not sure of (flow collections, escapes, folded lines,
 * comments among the entries, numbers other than plain integers, duplicate keys) gives undefined:
 * the caller then parses the file as YAML, which also words the errors.
 */

type Scalar = string | number | boolean;
type Value = Scalar | Scalar[] | Record<string, Scalar>;

// A plain scalar in block context: no indicator first, printable characters only; the checks in
// scalar() refuse `: ` and ` #` inside and a `:` or space at the end.
const PLAIN =
  /^[A-Za-z0-9_/.$+=()^:\u00A0-\u2027\u202A-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD][\x20-\x7E\u00A0-\u2027\u202A-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD]*$/;
// What YAML 1.2's core schema reads as null, a boolean or a number (the `yaml` library's tests for
// null, bool, float (nan/inf, exponent, decimal) and int (octal, decimal, hex), in one).
const NOT_STRING =
  /^(?:~|[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)$/;

/** One scalar as YAML reads it, or undefined when not sure. */
function scalar(text: string): Scalar | undefined {
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    // Quoted without escapes: the text between the quotes is the value.
    const inner = text.slice(1, -1);
    const noEscapes = quote === '"' ? !/["\\]/.test(inner) : !inner.includes("'");
    return text.length >= 2 && text.endsWith(quote) && noEscapes ? inner : undefined;
  }
  if (!PLAIN.test(text) || text.includes(': ') || text.includes(' #') || /[ :]$/.test(text)) return undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^(?:0|[1-9][0-9]{0,14})$/.test(text)) return Number(text);
  return NOT_STRING.test(text) ? undefined : text;
}

/** `key: value`, or `key:` (value undefined) that opens a list or map; the key a plain string. */
function keyValue(line: string): [key: string, value: string | undefined] | undefined {
  const colon = line.indexOf(': ');
  const key = colon >= 0 ? line.slice(0, colon) : line.endsWith(':') ? line.slice(0, -1) : undefined;
  if (key === undefined || key.startsWith('"') || key.startsWith("'") || typeof scalar(key) !== 'string') {
    return undefined;
  }
  return [key, colon >= 0 ? line.slice(colon + 2) : undefined];
}

/** Sets a key that is not there yet (YAML refuses a duplicate key); an own property even for `__proto__`. */
function put<T>(to: Record<string, T>, key: string, value: T): boolean {
  if (Object.hasOwn(to, key)) return false;
  Object.defineProperty(to, key, { value, enumerable: true, writable: true, configurable: true });
  return true;
}

/** The file's value (`{ users: [...] }`) when it is in the form `ferry users` writes; else undefined. */
export function parseWrittenUsersFile(text: string): { users: Record<string, Value>[] } | undefined {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let i = 0;
  while (i < lines.length && (lines[i] === '' || lines[i]?.startsWith('#'))) i++;
  if (lines[i] === 'users: []' && i === lines.length - 1) return { users: [] };
  if (lines[i] !== 'users:' || i === lines.length - 1) return undefined;
  const users: Record<string, Value>[] = [];
  let entry: Record<string, Value> = {};
  // The list or map a `    key:` line opened, filled by the `      ` lines below it.
  let open: { key: string; list: Scalar[]; map: Record<string, Scalar>; items: number } | undefined;
  const close = (): boolean => {
    const done = open;
    open = undefined;
    if (!done) return true;
    // Nothing below it is YAML's null; both kinds of line is not YAML.
    if (done.items === 0 || (done.list.length > 0 && done.list.length !== done.items)) return false;
    return put<Value>(entry, done.key, done.list.length > 0 ? done.list : done.map);
  };
  for (const line of lines.slice(i + 1)) {
    if (open && line.startsWith('      ')) {
      const item = line.slice(6);
      const kv = item.startsWith('- ') ? undefined : keyValue(item);
      const v = scalar(kv ? (kv[1] ?? '') : item.slice(2));
      if (v === undefined) return undefined;
      if (kv ? !put(open.map, kv[0], v) : !item.startsWith('- ')) return undefined;
      if (!kv) open.list.push(v);
      open.items++;
      continue;
    }
    if (!close()) return undefined;
    const first = line.startsWith('  - ');
    if (!first && !(line.startsWith('    ') && users.length > 0)) return undefined;
    const kv = keyValue(line.slice(4));
    if (!kv) return undefined;
    if (first) users.push((entry = {}));
    const [key, raw] = kv;
    if (raw === undefined) {
      if (first) return undefined;
      open = { key, list: [], map: {}, items: 0 };
      continue;
    }
    const v = scalar(raw);
    if (v === undefined || !put<Value>(entry, key, v)) return undefined;
  }
  return close() ? { users } : undefined;
}
