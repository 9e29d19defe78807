import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Account } from '../auth/account.js';
import {
  parseAssignment,
  parseCidr,
  parseCount,
  parseExpiry,
  parseFingerprint,
  parsePermissionList,
  parseRate,
  parseSize,
} from '../auth/account-fields.js';
import { CERT_LOGIN_MODES, type CertLogin } from '../auth/cert-login.js';
import type { Permission } from '../auth/permissions.js';
import { FerryError } from '../errors.js';

/** The account options of `ferry users add` and `ferry users set`, as commander parses them. */
export interface AccountFlags {
  home?: string;
  perm: string[];
  folder: string[];
  quotaSize?: string;
  quotaFiles?: string;
  uploadRate?: string;
  downloadRate?: string;
  maxSessions?: string;
  allowFrom: string[];
  expires?: string;
  disabled?: boolean;
  enabled?: boolean;
  clientCert: string[];
  certLogin?: string;
  /** true (`--read-only`), false (`--no-read-only`), or "default" (unset: userDefaults decide). */
  readOnly?: boolean | string;
  hideDotFiles?: boolean | string;
  hash?: boolean | string;
  denyFile: string[];
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** Declares the account options on `add` or `set`. */
export function accountOptions(cmd: Command, adding: boolean): Command {
  const clear = adding ? '' : '; "none" clears';
  const dflt = '; "default": the config\'s userDefaults';
  return cmd
    .option(
      '--perm <vpath=perms>',
      `permissions at a virtual path, e.g. /pub=list,download (repeatable; VPATH= removes the rule)`,
      collect,
      [],
    )
    .option('--max-sessions <n>', `concurrent sessions (0 = no limit${dflt})`)
    .option(
      '--allow-from <cidr>',
      `log in only from this network (repeatable${adding ? '' : '; replaces the list; "any" clears it'})`,
      collect,
      [],
    )
    .option(
      '--expires <date>',
      `refuse logins after this day (YYYY-MM-DD, UTC) or time (ISO 8601)${adding ? '' : '; "never" clears'}`,
    )
    .option('--disabled', 'refuse logins (running sessions end)')
    .option(
      '--quota-size <size>',
      `bytes the user may store under the home, e.g. 500M, 2G (0 = no limit${dflt})`,
    )
    .option('--quota-files <n>', `files the user may store under the home (0 = no limit${dflt})`)
    .option(
      '--upload-rate <rate>',
      `upload bandwidth of all the user's sessions, e.g. 10MB/s (0 = no limit${dflt})`,
    )
    .option(
      '--download-rate <rate>',
      `download bandwidth of all the user's sessions, e.g. 10MB/s (0 = no limit${dflt})`,
    )
    .option(
      '--folder <vpath=dir>',
      'mount the directory DIR at the virtual path VPATH (repeatable; VPATH= removes it)',
      collect,
      [],
    )
    .option(
      '--client-cert <sha256>',
      `pin a client certificate by its SHA-256 fingerprint (repeatable${adding ? '' : '; replaces the list'}${clear})`,
      collect,
      [],
    )
    .option(
      '--cert-login <mode>',
      `what a client certificate does: ${CERT_LOGIN_MODES.join(', ')} (default with a pinned certificate: cert-and-password${clear})`,
    )
    .option('--read-only [default]', `list and download only at / (a --perm rule for / wins${dflt})`)
    .option(
      '--no-read-only',
      "full rights at / unless --perm says otherwise (whatever userDefaults' readOnly)",
    )
    .option(
      '--hide-dot-files [default]',
      'LIST, NLST and STAT leave dot-files out unless asked with -a ("default": the server\'s hideDotFiles)',
    )
    .option('--no-hide-dot-files', "list dot-files (whatever the server's hideDotFiles)")
    .option('--hash [default]', `answer HASH (on unless userDefaults turn it off${dflt})`)
    .option('--no-hash', "HASH refused and left out of FEAT (whatever userDefaults' hash)")
    .option(
      '--deny-file <pattern>',
      `a shell pattern of names the user may not see or use, besides the server's denyFiles (repeatable${adding ? '' : `; replaces the list; '' clears it`})`,
      collect,
      [],
    );
}

/** Runs a parser; its RangeError becomes a usage error naming the flag. */
function flag<T>(name: string, parse: (text: string) => T, text: string): T {
  try {
    return parse(text);
  } catch (err) {
    throw new FerryError('ERR_USAGE', `--${name}: ${(err as Error).message}.`);
  }
}

/** An existing directory, made absolute. */
async function directory(name: string, dir: string): Promise<string> {
  const abs = path.resolve(dir);
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isDirectory())
    throw new FerryError('ERR_USAGE', `--${name}: ${abs} is not a directory (create it first).`);
  return abs;
}

/**
 * A limit: a number (0 = no limit, written so: it opts out of the config's userDefaults), or
 * `default` to leave it unset (the account then takes userDefaults' value, if any).
 */
function limitFlag(name: string, parse: (text: string) => number, text: string): number | undefined {
  return text === 'default' ? undefined : flag(name, parse, text);
}

/**
 * Applies the flags to `a` (a new account for add, the stored one for set). Returns what the user
 * should hear of (a removal of a rule or folder the account does not have: nothing removed).
 */
export async function applyAccountFlags(a: Account, f: AccountFlags): Promise<string[]> {
  const notes: string[] = [];
  if (f.home?.startsWith('s3://')) {
    if (!/^s3:\/\/[^/]+/.test(f.home))
      throw new FerryError('ERR_USAGE', `--home: expected s3://bucket/prefix/, got "${f.home}".`);
    a.home = f.home; // its bucket: checked by users.ts (checkS3Home), and at start
  } else if (f.home !== undefined) a.home = await directory('home', f.home);
  if (f.perm.length > 0) {
    const rules: Record<string, readonly Permission[] | '*'> = { ...a.permissions };
    const given = new Map<string, string>();
    for (const text of f.perm) {
      const { path: dir, value } = flag('perm', parseAssignment, text);
      givenOnce('perm', given, dir, text);
      if (value === '' && !Object.hasOwn(rules, dir))
        notes.push(`--perm ${dir}=: there is no rule at ${dir} to remove.`);
      if (value === '') delete rules[dir];
      else rules[dir] = flag('perm', parsePermissionList, value);
    }
    a.permissions = Object.keys(rules).length > 0 ? rules : undefined;
  }
  if (f.folder.length > 0) {
    const folders: Record<string, string> = { ...a.folders };
    const given = new Map<string, string>();
    for (const text of f.folder) {
      const { path: dir, value } = flag('folder', parseAssignment, text);
      if (dir === '/') throw new FerryError('ERR_USAGE', '--folder: / is the home; mount folders below it.');
      givenOnce('folder', given, dir, text);
      if (value === '' && !Object.hasOwn(folders, dir))
        notes.push(`--folder ${dir}=: there is no folder at ${dir} to remove.`);
      if (value === '') delete folders[dir];
      // A URL would be taken for a relative path (s3://b/x → ./s3:/b/x) and refused as a missing one.
      else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
        throw new FerryError(
          'ERR_USAGE',
          `--folder: ${value} is not a host directory: virtual folders are local directories (an S3 home is set with --home).`,
        );
      else folders[dir] = await directory('folder', value);
    }
    a.folders = Object.keys(folders).length > 0 ? folders : undefined;
  }
  if (f.quotaSize !== undefined) a.quotaSize = limitFlag('quota-size', parseSize, f.quotaSize);
  if (f.quotaFiles !== undefined) a.quotaFiles = limitFlag('quota-files', parseCount, f.quotaFiles);
  if (f.uploadRate !== undefined) a.uploadRate = limitFlag('upload-rate', parseRate, f.uploadRate);
  if (f.downloadRate !== undefined) a.downloadRate = limitFlag('download-rate', parseRate, f.downloadRate);
  if (f.maxSessions !== undefined) a.maxSessions = limitFlag('max-sessions', parseCount, f.maxSessions);
  if (f.allowFrom.length > 0) {
    const any = f.allowFrom.length === 1 && f.allowFrom[0] === 'any';
    a.allowFrom = any ? undefined : [...new Set(f.allowFrom.map((c) => flag('allow-from', parseCidr, c)))];
  }
  if (f.expires !== undefined) {
    a.expires = f.expires === 'never' ? undefined : flag('expires', parseExpiry, f.expires).toISOString();
  }
  if (f.disabled && f.enabled) throw new FerryError('ERR_USAGE', 'Give --disabled or --enabled, not both.');
  if (f.disabled) a.disabled = true;
  if (f.enabled) a.disabled = undefined;
  if (f.certLogin !== undefined) a.certLogin = certLoginFlag(f.certLogin);
  if (f.readOnly !== undefined) a.readOnly = switchFlag('read-only', f.readOnly);
  if (f.hideDotFiles !== undefined) a.hideDotFiles = switchFlag('hide-dot-files', f.hideDotFiles);
  if (f.hash !== undefined) a.hash = switchFlag('hash', f.hash);
  if (f.denyFile.length > 0) {
    const clear = f.denyFile.length === 1 && f.denyFile[0] === '';
    if (!clear && f.denyFile.includes(''))
      throw new FerryError('ERR_USAGE', "--deny-file: '' (clear the list) goes alone.");
    a.denyFiles = clear ? undefined : [...new Set(f.denyFile)];
  }
  if (f.clientCert.length > 0) {
    const none = f.clientCert.length === 1 && f.clientCert[0] === 'none';
    a.clientCerts = none
      ? undefined
      : [...new Set(f.clientCert.map((c) => flag('client-cert', parseFingerprint, c)))];
  }
  return notes;
}

/** Twice the same virtual path to `--name`: one of them would be dropped without a word. */
function givenOnce(name: string, given: Map<string, string>, dir: string, text: string): void {
  const before = given.get(dir);
  if (before !== undefined)
    throw new FerryError(
      'ERR_USAGE',
      `--${name}: ${dir} is given twice (${before} and ${text}): give each virtual path once.`,
    );
  given.set(dir, text);
}

/** `--x` (true), `--no-x` (false), or `--x default` (unset: the defaults decide). */
function switchFlag(name: string, value: boolean | string): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'default') return undefined;
  throw new FerryError('ERR_USAGE', `--${name}: takes no value but "default", got "${value}".`);
}

function certLoginFlag(text: string): CertLogin | undefined {
  if (text === 'none') return undefined;
  const mode = CERT_LOGIN_MODES.find((m) => m === text);
  if (!mode) {
    throw new FerryError(
      'ERR_USAGE',
      `--cert-login: expected ${CERT_LOGIN_MODES.join(', ')} or none, got "${text}".`,
    );
  }
  return mode;
}
