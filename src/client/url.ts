import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../errors.js';
import { percentDecode } from '../protocol/byte-text.js';
import { passwordSpan, redactUrl } from '../protocol/url-password.js';

export { redactUrl };

/**
 * FTP URLs: `ftps://` implicit FTPS (port 990), `ftpes://` explicit FTPS (port 21), `ftp://` plain
 * FTP (only with an explicit opt-in, checked by the caller). The path follows RFC 1738: it is
 * relative to the login directory unless it starts with `%2F` (`ftps://h/%2Fetc` is `/etc`).
 * Credentials come from the URL, then `FERRY_PASSWORD`, then `~/.netrc` (or `$NETRC`).
 */

export type FtpScheme = 'ftps' | 'ftpes' | 'ftp';

/** How the control connection is secured. */
export type Security = 'implicit' | 'explicit' | 'none';

export interface FtpUrl {
  readonly scheme: FtpScheme;
  readonly security: Security;
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Decoded path: '' for the login directory; relative unless it starts with '/'. */
  readonly path: string;
  /** True when the URL path ended with '/' or `;type=d` (names a directory). */
  readonly trailingSlash: boolean;
  /** `;type=d`: RFC 1738's listing of the directory's names (NLST), not a full one. */
  readonly namesOnly: boolean;
  /**
   * The path as `ferry get` reads it, a pattern in its last segment: as `path`, but there an
   * encoded `*`, `?`, `[`, `]` or `\` (`%2A`…) is quoted with `\`, so it stays the character itself.
   */
  readonly pattern: string;
}

export const DEFAULT_PORTS: Readonly<Record<FtpScheme, number>> = { ftps: 990, ftpes: 21, ftp: 21 };

const securityOf: Readonly<Record<FtpScheme, Security>> = {
  ftps: 'implicit',
  ftpes: 'explicit',
  ftp: 'none',
};

function usage(message: string): FerryError {
  return new FerryError('ERR_USAGE', message);
}

/** Percent-decoding that keeps bytes that are not UTF-8 (`%E9` of a Latin-1 name) for the server. */
function decode(part: string, what: string): string {
  const text = percentDecode(part);
  if (text === undefined) throw usage(`Invalid percent-encoding in the URL ${what}.`);
  return text;
}

/** True for text that looks like an FTP URL (any of our schemes). */
export function isFtpUrl(text: string): boolean {
  return /^(ftps|ftpes|ftp):\/\//i.test(text);
}

/** Parses an FTP URL; throws FerryError ERR_USAGE (never echoing the password) when malformed. */
export function parseFtpUrl(text: string): FtpUrl {
  // FTP URLs have no query or fragment (RFC 1738): `?` and `#` in the path are part of the name (a
  // `?` wildcard of `ferry get 'ftps://h/f?.log'`).
  const m = /^(ftps|ftpes|ftp):\/\/([^/?#]*)(\/.*)?$/is.exec(text);
  if (!m) {
    throw usage(
      `Not an FTP URL: ${redactUrl(text)} (expected ftps://HOST/PATH, ftpes://HOST/PATH or ftp://HOST/PATH).`,
    );
  }
  const scheme = (m[1] ?? '').toLowerCase() as FtpScheme;
  const authority = m[2] ?? '';
  const rawPath = m[3] ?? '';
  const at = authority.lastIndexOf('@');
  const userInfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
  let user: string | undefined;
  let password: string | undefined;
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo, 'user name');
    if (colon >= 0) password = decode(userInfo.slice(colon + 1), 'password');
    if (user === '') user = undefined;
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+(?:%[\w.~-]+)?)\](?::(\d*))?$/.exec(hostPort);
  if (v6) {
    // RFC 6874: the zone of a link-local address follows '%25' (an encoded '%'); node wants a bare '%'.
    host = (v6[1] ?? '').replace(/%25(?=[\w.~-])/, '%');
    portText = v6[2];
  } else {
    const hp = /^([^:[\]]+)(?::(\d*))?$/.exec(hostPort);
    if (!hp) throw usage(`Invalid host in URL: ${redactUrl(text)}`);
    host = decode(hp[1] ?? '', 'host');
    portText = hp[2];
  }
  if (host === '') throw usage(`The URL has no host: ${redactUrl(text)}`);
  let port = DEFAULT_PORTS[scheme];
  if (portText !== undefined && portText !== '') {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage(`Invalid port in URL: ${portText}`);
  }
  // RFC 1738 typecode: ;type=i is binary, what ferry always uses; ;type=d names a directory, to be
  // listed by name (NLST).
  const typecode = /;type=([aid])$/i.exec(rawPath);
  const kind = typecode?.[1]?.toLowerCase();
  if (kind === 'a')
    throw usage(
      'ASCII mode (;type=a) is not supported: ferry transfers files as they are (binary, ;type=i).',
    );
  const pathPart = typecode ? rawPath.slice(0, typecode.index) : rawPath;
  // RFC 1738: segments after the first '/' are relative to the login directory; %2F makes it absolute.
  const body = pathPart.startsWith('/') ? pathPart.slice(1) : pathPart;
  const raw = body === '' ? [] : body.split('/');
  let p = raw.map((s) => decode(s, 'path')).join('/');
  const trailingSlash = (pathPart.length > 1 && pathPart.endsWith('/')) || (kind === 'd' && p !== '');
  if (trailingSlash && p.endsWith('/')) p = p.slice(0, -1);
  if (/[\r\n\0]/.test(p)) throw usage('The URL path contains a line break or NUL.');
  // Only what follows the last '/' is a pattern (a decoded %2F in the last segment ends a directory).
  const last = patternSegment(raw.at(-1) ?? '');
  const pattern = trailingSlash
    ? p
    : p.slice(0, p.lastIndexOf('/') + 1) + last.slice(last.lastIndexOf('/') + 1);
  return {
    scheme,
    security: securityOf[scheme],
    host,
    port,
    user,
    password,
    path: p,
    trailingSlash,
    namesOnly: kind === 'd',
    pattern,
  };
}

/**
 * A raw path segment decoded as a pattern: an encoded `*`, `?`, `[`, `]` or `\` is data (RFC 3986),
 * so it is quoted with an (encoded) backslash; the segment's own `\` quotes what follows it, an
 * encoded character too, as before.
 */
function patternSegment(segment: string): string {
  const quoted = segment.replace(/\\(?:%[0-9A-Fa-f]{2}|.)|%(2A|3F|5B|5C|5D)/gisu, (m, hex?: string) =>
    hex === undefined ? m : `%5C%${hex}`,
  );
  return decode(quoted, 'path');
}

/**
 * A message with the password of each of `texts` (command-line arguments) masked wherever it
 * shows as `:password@` (an error of the file system names a path as given, or normalized).
 */
export function redactIn(message: string, texts: readonly string[]): string {
  let out = message;
  for (const t of texts) {
    const span = passwordSpan(t);
    if (span) out = out.replaceAll(`:${t.slice(span.start, span.end)}@`, ':****@');
  }
  return out;
}

export interface NetrcEntry {
  /** undefined for the `default` entry. */
  readonly machine: string | undefined;
  readonly login: string | undefined;
  readonly password: string | undefined;
}

/** Parses .netrc text (`machine`, `default`, `login`, `password`; `macdef` bodies skipped). */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: { machine: string | undefined; login?: string; password?: string } | undefined;
  const lines = text.split(/\r?\n/);
  const push = (): void => {
    if (current) entries.push({ machine: current.machine, login: current.login, password: current.password });
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const tokens = tokenizeNetrcLine(lines[i] ?? '');
    for (let t = 0; t < tokens.length; t++) {
      const tok = tokens[t];
      const next = (): string | undefined => tokens[++t];
      switch (tok) {
        case 'machine':
          push();
          current = { machine: next() };
          break;
        case 'default':
          push();
          current = { machine: undefined };
          break;
        case 'login': {
          const v = next();
          if (current && v !== undefined) current.login = v;
          break;
        }
        case 'password': {
          const v = next();
          if (current && v !== undefined) current.password = v;
          break;
        }
        case 'account':
          next();
          break;
        case 'macdef':
          push();
          // The macro body runs to the next empty line.
          while (i + 1 < lines.length && (lines[i + 1] ?? '').trim() !== '') i++;
          t = tokens.length;
          break;
        default:
          break;
      }
    }
  }
  push();
  return entries;
}

function tokenizeNetrcLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[2]?.startsWith('#') && out.length === 0) break;
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? ''));
  }
  return out;
}

/** The netrc entry for a host: the first `machine` that matches, else `default`. */
export function netrcLookup(entries: readonly NetrcEntry[], host: string): NetrcEntry | undefined {
  const h = host.toLowerCase();
  return entries.find((e) => e.machine?.toLowerCase() === h) ?? entries.find((e) => e.machine === undefined);
}

export interface CredentialSources {
  /** Environment to read FERRY_PASSWORD, NETRC and HOME from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A .netrc file to use instead of $NETRC or ~/.netrc; false to skip netrc. */
  readonly netrcFile?: string | false;
  /** A client certificate may log the user in: a named user needs no password then. */
  readonly clientCertificate?: boolean;
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
  /** Where the password came from (never the password itself). */
  readonly source: 'url' | 'env' | 'netrc' | 'anonymous' | 'none';
}

/**
 * User and password for a URL: the URL's, then FERRY_PASSWORD, then .netrc; `anonymous` when no
 * user is known at all.
 */
export async function resolveCredentials(
  u: Pick<FtpUrl, 'host' | 'user' | 'password'>,
  sources: CredentialSources = {},
): Promise<Credentials> {
  const env = sources.env ?? process.env;
  if (u.user !== undefined && u.password !== undefined) {
    return { user: u.user, password: u.password, source: 'url' };
  }
  const fromEnv = env['FERRY_PASSWORD'];
  if (fromEnv !== undefined && fromEnv !== '' && u.user !== undefined) {
    return { user: u.user, password: fromEnv, source: 'env' };
  }
  if (sources.netrcFile !== false) {
    const file = sources.netrcFile ?? env['NETRC'] ?? path.join(env['HOME'] ?? os.homedir(), '.netrc');
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      const entry = netrcLookup(parseNetrc(text), u.host);
      if (entry && (u.user === undefined || entry.login === undefined || entry.login === u.user)) {
        const user = u.user ?? entry.login;
        if (user !== undefined && entry.password !== undefined) {
          return { user, password: entry.password, source: 'netrc' };
        }
      }
    }
  }
  if (u.user === undefined && fromEnv !== undefined && fromEnv !== '') {
    throw usage('FERRY_PASSWORD is set but the URL names no user (use ftps://USER@HOST/…).');
  }
  if (u.user !== undefined && u.user !== 'anonymous' && u.user !== 'ftp') {
    // A server that asks for a password all the same (331) gets an empty one and refuses (530).
    if (sources.clientCertificate) return { user: u.user, password: '', source: 'none' };
    throw new FerryError(
      'ERR_AUTH',
      `No password for ${u.user}@${u.host}: put it in FERRY_PASSWORD or ~/.netrc (or in the URL).`,
    );
  }
  return { user: u.user ?? 'anonymous', password: 'anonymous@', source: 'anonymous' };
}

/** Joins a remote directory and a name with '/', keeping '' (login directory) relative. */
export function joinRemote(dir: string, name: string): string {
  if (dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The last path segment of a remote path ('' for the login directory). */
export function remoteBasename(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash >= 0 ? trimmed.slice(slash + 1) : trimmed;
}

/** The parent of a remote path: '' (login directory) for a bare name, '/' for '/x'. */
export function remoteDirname(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, '') : p;
  const slash = trimmed.lastIndexOf('/');
  if (slash < 0) return '';
  return slash === 0 ? '/' : trimmed.slice(0, slash);
}
