import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as z from 'zod';
import type { Account } from '../auth/account.js';
import {
  accountSchema,
  anonymousSchema,
  size,
  toAccount,
  toAnonymousAccount,
} from '../auth/account-schema.js';
import { anonymousNameTaken } from '../auth/anonymous.js';
import { userDefaultsSchema } from '../auth/user-defaults.js';
import { adminTokenProblem } from '../admin/bearer-token.js';
import { FerryError } from '../errors.js';
import { ipv6PrefixLength, legacyEncoding, MAX_TIMER_MS, nat64Prefix } from '../server/options.js';
import { parseYamlFile, topLevelSource } from '../yaml-file.js';
import { reportedIssue } from '../zod-issues.js';
import { storageSchema } from './storage-config.js';
import { parseTlsVersion, TLS_VERSION_CHOICES } from './tls-version.js';

/** The YAML config file (`ferry serve --config FILE`). Every key is optional; flags override it. */
const seconds = z.number().int().positive();
/** A timeout: Node's timers wait at most MAX_TIMER_MS (a longer one fires after 1 ms). */
const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
const TIMER_LIMIT = `at most ${MAX_TIMER_SECONDS} (about 24.8 days, the longest a Node.js timer waits)`;
const timeoutSeconds = seconds.max(MAX_TIMER_SECONDS, TIMER_LIMIT);
const count = z.number().int().positive();
const points = z.number().int().nonnegative();

/** `defender:`: scores, bans and the limits before login (README, "Defender"). */
const defenderSchema = z
  .object({
    enabled: z.boolean().optional(),
    allow: z.array(z.string()).optional(),
    threshold: count.optional(),
    windowSeconds: seconds.optional(),
    banSeconds: seconds.optional(),
    maxBanSeconds: seconds.optional(),
    scores: z
      .object({
        failedLogin: points.optional(),
        unknownUser: points.optional(),
        tlsFailure: points.optional(),
        limitRefused: points.optional(),
        commandFlood: points.optional(),
      })
      .strict()
      .optional(),
    handshakeTimeoutSeconds: timeoutSeconds.optional(),
    loginTimeoutSeconds: timeoutSeconds.optional(),
    maxUnauthenticatedPerAddress: count.optional(),
    maxPassivePerAddress: count.optional(),
    maxPassivePerUser: count.optional(),
    maxPasswordChecks: count.optional(),
    maxPasswordChecksPerAddress: count.optional(),
    /** An IPv6 client counts as its network of this many bits (scores, bans, per-address limits). */
    ipv6PrefixLength: ipv6PrefixLength.optional(),
    /** A site's NAT64/SIIT prefixes: an address in one counts as the IPv4 client it embeds. */
    nat64Prefixes: z.array(nat64Prefix).optional(),
  })
  .strict();

export type DefenderConfig = z.infer<typeof defenderSchema>;

export const configSchema = z
  .object({
    root: z.string().min(1).optional(),
    /** One address or a list (`[0.0.0.0, "::"]`): both ports listen on each. */
    listen: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .optional(),
    explicitPort: z.number().int().min(0).max(65535).optional(),
    implicitPort: z.number().int().min(0).max(65535).optional(),
    passivePorts: z
      .string()
      .regex(/^\d+-\d+$/, 'a range like 50000-50100')
      .optional(),
    /** One address, or a list: `{ network: CIDR, address }` rules and one plain address as the default. */
    passiveAddress: z
      .union([
        z.string().min(1),
        z.array(
          z.union([z.string().min(1), z.object({ network: z.string(), address: z.string() }).strict()]),
        ),
      ])
      .optional(),
    /** PROXY protocol from load balancers in `trusted` networks (README, "Behind a load balancer or NAT"). */
    proxyProtocol: z
      .object({
        trusted: z.array(z.string()).min(1),
        required: z.boolean().optional(),
        headerTimeoutSeconds: timeoutSeconds.optional(),
      })
      .strict()
      .optional(),
    dataDir: z.string().min(1).optional(),
    certificates: z.array(z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict()).optional(),
    /** CAs whose client certificates log users in (by CN; see the README's Accounts). */
    clientCertificates: z
      .object({
        ca: z
          .union([z.string().min(1), z.array(z.string().min(1))])
          .transform((v) => (Array.isArray(v) ? v : [v])),
        crl: z
          .union([z.string().min(1), z.array(z.string().min(1))])
          .transform((v) => (Array.isArray(v) ? v : [v]))
          .optional(),
      })
      .strict()
      .optional(),
    // YAML reads `1.2` as a number: accept it as well as "TLSv1.2".
    tlsMinVersion: z
      .union([z.string(), z.number()])
      .transform((v, ctx) => {
        const version = parseTlsVersion(String(v));
        if (version === undefined) {
          ctx.addIssue({ code: 'custom', message: `expected ${TLS_VERSION_CHOICES}, got "${v}"` });
          return z.NEVER;
        }
        return version;
      })
      .optional(),
    /** OpenSSL's cipher list (TLS 1.3 suites, `TLS_…`, in it too): vsftpd's ssl_ciphers. */
    tlsCiphers: z.string().min(1).optional(),
    requireSessionReuse: z.boolean().optional(),
    sessionReuseScope: z.enum(['connection', 'user']).optional(),
    allowClearData: z.boolean().optional(),
    allowPlainControl: z.boolean().optional(),
    allowCcc: z.boolean().optional(),
    denyFiles: z.array(z.string().min(1)).optional(),
    denyFilesIgnoreCase: z.boolean().optional(),
    hideDotFiles: z.boolean().optional(),
    /** Read command lines that are not UTF-8 in this set (README, "Old clients and non-UTF-8 names"). */
    legacyEncoding: legacyEncoding.optional(),
    users: z.array(accountSchema).optional(),
    /** Limits for every account (config users and the users file's) that does not set them itself. */
    userDefaults: userDefaultsSchema.optional(),
    /** Anonymous FTP (README, "Anonymous FTP"): logins anonymous and ftp, any password. Off unless set. */
    anonymous: anonymousSchema.optional(),
    /**
     * The users file `ferry users` edits (default: <dataDir>/users.yaml), or PostgreSQL shared by
     * several nodes (accounts, bans, quota usage, session counts; FERRY_DATABASE_URL also selects it).
     */
    accounts: z
      .object({
        file: z.string().min(1).optional(),
        postgres: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'a URL like postgres://user:password@host/database')
          .optional(),
        offlineLoginSeconds: z.number().int().nonnegative().optional(),
      })
      .strict()
      .refine((a) => !(a.file && a.postgres), 'file and postgres: the accounts are in one or the other')
      .optional(),
    idleTimeoutSeconds: timeoutSeconds.optional(),
    /** A data connection idle this long (nothing sent or received) is closed: 426. */
    dataTimeoutSeconds: timeoutSeconds.optional(),
    /** A passive port waiting this long for the client's data connection gives up: 425. */
    dataConnectTimeoutSeconds: timeoutSeconds.optional(),
    /** A command without a data connection not finished in this long (storage not answering): 421. */
    commandTimeoutSeconds: timeoutSeconds.optional(),
    /** At SIGTERM, how long running transfers may go on before they are cut (0: at once). */
    stopGraceSeconds: z.number().int().nonnegative().max(MAX_TIMER_SECONDS, TIMER_LIMIT).optional(),
    /** The text of the 220 greeting (vsftpd's ftpd_banner, ProFTPD's ServerIdent). */
    greeting: z.string().min(1).optional(),
    /**
     * Mask of the modes of uploaded files and new directories, octal (vsftpd's local_umask): `"027"`,
     * `027` or `0o027` (loadConfig hands over the number as written).
     */
    umask: z
      .union([z.string(), z.number()])
      .transform((v, ctx) => {
        const text = String(v).replace(/^0o/, '');
        if (!/^0?[0-7]{1,3}$/.test(text)) {
          ctx.addIssue({ code: 'custom', message: `expected an octal mask like "022", got "${text}"` });
          return z.NEVER;
        }
        return parseInt(text, 8);
      })
      .optional(),
    maxSessions: z.number().int().positive().optional(),
    maxSessionsPerAddress: z.number().int().positive().optional(),
    /** HASH (a whole file read): at once per process and per user, and the largest file it reads. */
    maxHashes: count.optional(),
    maxHashesPerUser: count.optional(),
    hashMaxSize: size.optional(),
    /** Commands a second per session (0: no limit), and how many at once ahead of it. */
    maxCommandRate: z.number().int().nonnegative().optional(),
    maxCommandBurst: count.optional(),
    workers: z.number().int().min(1).max(1024).optional(),
    defender: defenderSchema.optional(),
    /** The default storage of homes (README, "Object storage"). */
    storage: storageSchema.optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
    /** The admin HTTP listener (metrics, health); off unless set. */
    admin: z
      .object({
        listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'HOST:PORT, e.g. 127.0.0.1:9900'),
        token: z
          .string()
          .superRefine((t, ctx) => {
            const problem = adminTokenProblem(t);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
      })
      .strict()
      .optional(),
    /** Transfer log in the xferlog format (wu-ftpd, vsftpd). */
    xferlog: z.string().min(1).optional(),
    /** Started as root: become this user once the ports are bound. */
    runAs: z.string().min(1).optional(),
    /** Serve as root (without runAs); refused otherwise. */
    allowRoot: z.boolean().optional(),
  })
  .strict();

/** The config as loaded: paths absolute, users (and the anonymous one) as accounts. */
export type FileConfig = Omit<z.infer<typeof configSchema>, 'users' | 'anonymous'> & {
  users?: Account[];
  anonymous?: Account;
};

/** Reads and validates the config; errors name the file, the key and what is expected. */
export async function loadConfig(file: string): Promise<FileConfig> {
  let text: string;
  try {
    // Absolute before the thread pool opens it: listings borrow the working directory.
    text = await readFile(path.resolve(file), 'utf8');
  } catch (err) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${file}: cannot read config (${(err as NodeJS.ErrnoException).code}).`,
    );
  }
  const raw = parseYamlFile(text, file);
  // A mask is octal however it is written: the number YAML made of it (0o027 → 23) would not be.
  if (typeof raw === 'object' && raw !== null && typeof (raw as { umask?: unknown }).umask === 'number')
    (raw as { umask: unknown }).umask = topLevelSource(text, 'umask');
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = reportedIssue(parsed.error.issues, configSchema);
    const key = issue.path.join('.') || '(top level)';
    const hint =
      parsed.error.issues.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0) &&
      issue.path.length === 1
        ? ` (known keys: ${Object.keys(configSchema.shape).join(', ')})`
        : '';
    throw new FerryError('ERR_INVALID_OPTION', `${file}: ${key}: ${issue.message}${hint}`);
  }
  // Relative paths in the file are relative to the file, not to the working directory.
  const base = path.dirname(path.resolve(file));
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(base, p));
  const c = parsed.data;
  if (c.anonymous) {
    for (const [i, u] of (c.users ?? []).entries()) {
      const taken = anonymousNameTaken(u.name);
      if (taken)
        throw new FerryError(
          'ERR_INVALID_OPTION',
          `${file}: users.${i}.name: ${taken} (the anonymous: block); rename the user, or remove the anonymous: block.`,
        );
    }
  }
  return {
    ...c,
    root: abs(c.root),
    dataDir: abs(c.dataDir),
    certificates: c.certificates?.map((x) => ({
      cert: path.resolve(base, x.cert),
      key: path.resolve(base, x.key),
    })),
    clientCertificates: c.clientCertificates && {
      ca: c.clientCertificates.ca.map((f) => path.resolve(base, f)),
      crl: c.clientCertificates.crl?.map((f) => path.resolve(base, f)),
    },
    users: c.users?.map((u) => toAccount(u, base)),
    anonymous: c.anonymous && toAnonymousAccount(c.anonymous, base),
    accounts: c.accounts && {
      ...c.accounts,
      file: c.accounts.file === undefined ? undefined : path.resolve(base, c.accounts.file),
    },
    xferlog: abs(c.xferlog),
  };
}

/** `--data-dir`, else the config's dataDir, else ~/.ferry. */
export function dataDirOf(flag: string | undefined, config: FileConfig): string {
  return path.resolve(flag ?? config.dataDir ?? path.join(os.homedir(), '.ferry'));
}

/** The users file: the config's `accounts.file`, else <dataDir>/users.yaml. */
export function usersFileOf(dataDirFlag: string | undefined, config: FileConfig): string {
  return config.accounts?.file ?? path.join(dataDirOf(dataDirFlag, config), 'users.yaml');
}

/** PostgreSQL when configured: the config's accounts.postgres, else FERRY_DATABASE_URL. */
export function databaseUrlOf(config: FileConfig): string | undefined {
  return config.accounts?.postgres ?? (process.env['FERRY_DATABASE_URL'] || undefined);
}

/** `HOST:PORT` or `[IPv6]:PORT` (the admin listener). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${what}: expected HOST:PORT like 127.0.0.1:9900, got "${text}".`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Where quota usage is kept: next to the data dir's other state, whatever file the users are in. */
export function usageFileOf(dataDir: string): string {
  return path.join(dataDir, 'usage.json');
}

/** Where the workers of `ferry serve` remember the files cut uploads left (server/cut-uploads.ts). */
export function cutUploadsFileOf(dataDir: string): string {
  return path.join(dataDir, 'cut-uploads.json');
}

export function parsePortRange(text: string, what: string): { portMin: number; portMax: number } {
  const m = /^(\d+)-(\d+)$/.exec(text);
  const portMin = Number(m?.[1]);
  const portMax = Number(m?.[2]);
  if (!m || portMin < 1 || portMax > 65535 || portMin > portMax) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${what}: expected a port range like 50000-50100, got "${text}".`,
    );
  }
  return { portMin, portMax };
}
