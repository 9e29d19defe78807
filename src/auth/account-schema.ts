import path from 'node:path';
import * as z from 'zod';
import type { Account } from './account.js';
import { ANONYMOUS_USER, anonymousAccount } from './anonymous.js';
import {
  parseCidr,
  parseExpiry,
  parseFingerprint,
  parsePermissionList,
  parseRate,
  parseSize,
  parseVirtualDir,
} from './account-fields.js';
import { CERT_LOGIN_MODES } from './cert-login.js';
import { passwordHashProblem } from './password.js';
import { formatPermissions, type Permission } from './permissions.js';

/** `s3://bucket/prefix/`: a home in an S3 bucket (on the server's configured endpoint). */
const isObjectStoreHome = (home: string): boolean => home.startsWith('s3://');

/**
 * A user name: letters, digits, `.`, `_`, `-`, but not dots alone (`.` and `..` would name a
 * directory and its parent where a name becomes a path: S3's default home `<prefix><name>/`).
 */
export const USERNAME_PATTERN = /^(?!\.+$)[A-Za-z0-9._-]{1,64}$/;

/** A zod refinement from one of account-fields' parsers (their RangeError message becomes the issue). */
function parsed<T>(parse: (text: string) => T) {
  return (v: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  };
}

/** Sizes and rates may be written as numbers (bytes) or with units ("2G", "10MB/s"). */
export const size = z.union([z.number().int().nonnegative(), z.string().transform(parsed(parseSize))]);
export const rate = z.union([z.number().int().nonnegative(), z.string().transform(parsed(parseRate))]);

/** An ISO 8601 time (YAML may give a Date), kept as one. */
function instantOf(v: string | Date, ctx: z.RefinementCtx): string {
  const at = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(at.getTime())) {
    ctx.addIssue({ code: 'custom', message: `expected an ISO 8601 time, got "${String(v)}"` });
    return z.NEVER;
  }
  return at.toISOString();
}
const instant = z.union([z.string(), z.date()]).transform(instantOf);

/**
 * `expires`: a date alone (`2027-01-31`) means usable through that day, UTC, as `ferry users
 * --expires` writes it (parseExpiry); `new Date()` would make it that day's first instant.
 */
const expiry = z.union([z.string(), z.date()]).transform((v, ctx) => {
  if (typeof v !== 'string' || !/^\s*\d{4}-\d{2}-\d{2}\s*$/.test(v)) return instantOf(v, ctx);
  const end = parsed(parseExpiry)(v, ctx);
  return end instanceof Date ? end.toISOString() : end;
});

/** An account's keys, as accountSchema and anonymousSchema check them. */
const accountFields = z
  .object({
    name: z.string().regex(USERNAME_PATTERN, 'letters, digits, . _ - (1 to 64 characters, not dots alone)'),
    // Checked below, where the message can name the user (and never quotes the hash).
    passwordHash: z.string(),
    // Absent: the server's default storage (`storage.s3`: <prefix><username>/).
    home: z.string().min(1).optional(),
    readOnly: z.boolean().optional(),
    permissions: z
      .record(z.string(), z.string())
      .transform((rules, ctx) => {
        const out: Record<string, readonly Permission[] | '*'> = {};
        for (const [dir, list] of Object.entries(rules)) {
          const d = parsed(parseVirtualDir)(dir, ctx);
          const l = parsed(parsePermissionList)(list, ctx);
          if (typeof d === 'string') out[d] = l;
        }
        return out;
      })
      .optional(),
    denyFiles: z.array(z.string().min(1)).optional(),
    hideDotFiles: z.boolean().optional(),
    passwordSet: instant.optional(),
    disabled: z.boolean().optional(),
    expires: expiry.optional(),
    allowFrom: z.array(z.string().transform(parsed(parseCidr))).optional(),
    maxSessions: z.number().int().nonnegative().optional(),
    folders: z
      .record(z.string(), z.string().min(1))
      .transform((folders, ctx) => {
        const out: Record<string, string> = {};
        for (const [dir, host] of Object.entries(folders)) {
          const d = parsed(parseVirtualDir)(dir, ctx);
          if (d === '/') ctx.addIssue({ code: 'custom', message: '/ is the home; mount folders below it' });
          else if (typeof d === 'string') out[d] = host;
        }
        return out;
      })
      .optional(),
    quotaSize: size.optional(),
    quotaFiles: z.number().int().nonnegative().optional(),
    uploadRate: rate.optional(),
    downloadRate: rate.optional(),
    hash: z.boolean().optional(),
    clientCerts: z.array(z.string().transform(parsed(parseFingerprint))).optional(),
    certLogin: z.enum(CERT_LOGIN_MODES).optional(),
  })
  .strict();

/**
 * One user as written in the users file and in the config's `users:` list. Relative homes and
 * folders are resolved by the caller (against the file's directory).
 */
export const accountSchema = accountFields.superRefine((e, ctx) => {
  const problem = passwordHashProblem(e.passwordHash);
  if (problem)
    ctx.addIssue({ code: 'custom', path: ['passwordHash'], message: `user "${e.name}": ${problem}` });
});

/**
 * The config's `anonymous:` block (anonymous FTP): an account's settings without the name and the
 * password (and the client certificates, which identify a person). The home is required: it is
 * the public directory (vsftpd's anon_root).
 */
export const anonymousSchema = accountFields
  .omit({ name: true, passwordHash: true, passwordSet: true, clientCerts: true, certLogin: true })
  .extend({ home: z.string().min(1) });

/** A validated `anonymous:` block → the anonymous account, relative host paths resolved against `base`. */
export function toAnonymousAccount(e: z.output<typeof anonymousSchema>, base: string): Account {
  return anonymousAccount(toAccount({ ...e, name: ANONYMOUS_USER, passwordHash: '' }, base));
}

export type AccountInput = z.input<typeof accountSchema>;

/** A validated entry → Account, relative host paths resolved against `base`. */
export function toAccount(e: z.output<typeof accountSchema>, base: string): Account {
  const { name, ...rest } = e;
  const home = e.home === undefined ? '' : isObjectStoreHome(e.home) ? e.home : path.resolve(base, e.home);
  const account: Account = { ...rest, username: name, home };
  if (e.folders) {
    account.folders = Object.fromEntries(
      Object.entries(e.folders).map(([d, host]) => [d, path.resolve(base, host)]),
    );
  }
  return account;
}

/** Account → the entry written to the users file (the inverse of toAccount; unset fields left out). */
export function fromAccount(a: Account): AccountInput {
  // `anonymous`: never in a store (only the configuration makes that account).
  const { username, permissions, allowFrom, clientCerts, folders, denyFiles, anonymous: _, ...rest } = a;
  const out: AccountInput = { name: username, ...rest };
  if (out.home === '') delete out.home;
  if (allowFrom) out.allowFrom = [...allowFrom];
  if (clientCerts) out.clientCerts = [...clientCerts];
  if (folders) out.folders = { ...folders };
  if (denyFiles) out.denyFiles = [...denyFiles];
  if (permissions) {
    out.permissions = Object.fromEntries(
      Object.entries(permissions).map(([d, rule]) => [d, formatPermissions(rule)]),
    );
  }
  for (const key of Object.keys(out) as (keyof AccountInput)[]) if (out[key] === undefined) delete out[key];
  return out;
}

/**
 * The first problem of a failed parse, as `KEY: message`. A size or rate (a number or a string)
 * that is neither says what the string form expects, not zod's bare "Invalid input". `name`: the
 * account an index in the key stands for, shown beside it (`users.41 (dora).quotaSize`).
 */
export function firstIssue(error: z.ZodError, name?: (index: number) => string | undefined): string {
  const issue = error.issues[0];
  const branch =
    issue?.code === 'invalid_union' ? issue.errors.flat().find((i) => i.code === 'custom') : undefined;
  const key = (issue?.path ?? [])
    .map((part) => {
      const who = typeof part === 'number' ? name?.(part) : undefined;
      return who === undefined ? String(part) : `${String(part)} (${who})`;
    })
    .join('.');
  return `${key || '(top level)'}: ${branch?.message ?? issue?.message ?? 'invalid'}`;
}
