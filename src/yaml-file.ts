// Parsing a YAML file that may hold secrets (the config's admin token, the users' password hashes).
import { isScalar, LineCounter, parse, parseDocument, Parser, YAMLParseError, type ErrorCode } from 'yaml';
import { FerryError } from './errors.js';

/**
 * What went wrong, in our words: the library's own messages quote the source (a code frame, and
 * sometimes a token or escape inline), which would put secrets in the log. A Record over its
 * `ErrorCode` so that a code added by a `yaml` upgrade fails the build until it is described here.
 */
const KINDS: Record<ErrorCode, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'invalid alias or anchor name',
  BAD_COLLECTION_TYPE: 'tag does not fit this kind of collection',
  BAD_DIRECTIVE: 'invalid directive',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation (items of one mapping or list must start at the same column)',
  BAD_PROP_ORDER: 'anchors and tags must come after the - or : indicator',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a block collection cannot be a key',
  BLOCK_IN_FLOW: 'block collection inside [ ] or { }',
  DUPLICATE_KEY: 'duplicate key',
  IMPOSSIBLE: 'malformed document',
  KEY_OVER_1024_CHARS: 'key longer than 1024 characters',
  MISSING_CHAR: 'missing character (a closing quote, a comma, a colon or a space)',
  MULTILINE_IMPLICIT_KEY: 'a key must be on one line',
  MULTIPLE_ANCHORS: 'more than one anchor on a value',
  MULTIPLE_DOCS: 'more than one document',
  MULTIPLE_TAGS: 'more than one tag on a value',
  NON_STRING_KEY: 'key is not a string',
  RESOURCE_EXHAUSTION: 'too many alias expansions',
  TAB_AS_INDENT: 'tab used for indentation',
  TAG_RESOLVE_FAILED: 'unknown tag or value not valid for its tag',
  UNEXPECTED_TOKEN: 'unexpected character or token',
};

/**
 * The file's value (`{}` when empty). Errors name the file, the line and column and the kind of
 * error, never the text around it.
 */
export function parseYamlFile(text: string, file: string): unknown {
  try {
    // logLevel 'error': the library's warnings go to process.emitWarning with a code frame.
    return (parse(text, { logLevel: 'error' }) as unknown) ?? {};
  } catch (err) {
    throw new FerryError('ERR_INVALID_OPTION', `${file}: not valid YAML${where(err, text)}`);
  }
}

/**
 * A top-level key's scalar as written in the file (`0o027`, `027`), when the parsed number would lose
 * how it was written: YAML 1.2 reads `0o027` as 23 and `027` as 27. Undefined when absent.
 */
export function topLevelSource(text: string, key: string): string | undefined {
  const node: unknown = parseDocument(text, { logLevel: 'error' }).get(key, true);
  return isScalar(node) ? node.source : undefined;
}

function where(err: unknown, text: string): string {
  if (err instanceof YAMLParseError) {
    // An unclosed [ or { takes in the lines after it: the library reports bad indentation where it
    // gives up (past the end of the file, at worst); the [ or { is what to fix.
    const open = unclosedFlow(text);
    if (open && open.offset <= err.pos[0])
      return ` at line ${open.line}, column ${open.col}: unclosed flow collection (a [ or { with no ] or } to end it)`;
    const at = err.linePos?.[0];
    return `${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${KINDS[err.code] ?? 'syntax error'}`;
  }
  // toJS() throws a ReferenceError (naming the alias) for an alias with no anchor before it.
  if (err instanceof ReferenceError) return ': an alias (*name) has no anchor (&name) before it';
  return '';
}

/** The first [ or { that no ] or } ends, from the library's syntax tree (CST); undefined if none. */
function unclosedFlow(text: string): { offset: number; line: number; col: number } | undefined {
  const lines = new LineCounter();
  let offset: number | undefined;
  const walk = (node: unknown): void => {
    if (offset !== undefined || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const n of node as unknown[]) walk(n);
      return;
    }
    const token = node as { type?: unknown; offset?: unknown; end?: unknown };
    if (token.type === 'flow-collection' && typeof token.offset === 'number' && Array.isArray(token.end)) {
      const ends = (token.end as { type?: unknown }[]).some(
        (t) => t.type === 'flow-seq-end' || t.type === 'flow-map-end',
      );
      if (!ends) {
        offset = token.offset;
        return;
      }
    }
    for (const value of Object.values(node)) walk(value);
  };
  for (const token of new Parser(lines.addNewLine).parse(text)) walk(token);
  return offset === undefined ? undefined : { offset, ...lines.linePos(offset) };
}
