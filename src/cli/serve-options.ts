import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../auth/account.js';
import { AccountAuthenticator, type LoginCacheOptions } from '../auth/authenticator.js';
import { anonymousAccount, anonymousNameTaken, isAnonymousName } from '../auth/anonymous.js';
import { hashPassword, type ScryptCost } from '../auth/password.js';
import { onlyReads } from '../auth/permissions.js';
import type { Authenticator } from '../auth/types.js';
import { UserTable, type UserEntry } from '../auth/users.js';
import { UsersFileStore } from '../auth/users-file.js';
import { GeneratedLogin } from '../auth/generated-login.js';
import { UsageFile } from '../auth/usage-file.js';
import { withDefaults } from '../auth/user-defaults.js';
import type { PgAccounts } from '../db/accounts.js';
import { silentLogger, type Logger } from '../logger.js';
import { FerryError } from '../errors.js';
import { defaultPorts } from '../server/default-ports.js';
import { OptionError, type ServerOptions } from '../server/options.js';
import { withLimits, type LimitsContext } from '../storage/limited.js';
import { QuotaBook } from '../storage/quota.js';
import { SharedTrees } from './shared-trees.js';
import { RateBuckets } from '../storage/throttle.js';
import { openServingState, type ServingState } from './shared-state.js';
import { userFlagLogin } from './serve-user-flag.js';
import {
  databaseUrlOf,
  dataDirOf,
  parsePortRange,
  usageFileOf,
  cutUploadsFileOf,
  usersFileOf,
  type FileConfig,
} from './config.js';
import { defenderOptions } from './defender-config.js';
import {
  storageSetup,
  type AwsEnv,
  type HomeToCheck,
  type RefusedHome,
  type StorageSetup,
} from './storage-config.js';
import { parseTlsVersion, TLS_VERSION_CHOICES } from './tls-version.js';
import { CertificateError } from '../tls/certificates.js';
import { userTree } from './user-storage.js';
import { currentUserName, unreadableHint } from './run-as-checks.js';
import { listenHost } from './listen-host.js';
import { isLegacyEncoding, LEGACY_ENCODINGS, type LegacyEncoding } from '../protocol/legacy-encoding.js';
import { recheckAccounts } from './account-rechecks.js';

/** `ferry serve`'s flags as commander parses them. */
export interface ServeFlags {
  config?: string;
  root?: string;
  listen?: string;
  explicitPort?: string;
  implicitPort?: string;
  pasvPorts?: string;
  pasvAddress?: string;
  user: string[];
  /** A read-only public directory for anonymous FTP (replaces the config's anonymous: block). */
  anonymous?: string;
  cert: string[];
  key: string[];
  clientCa: string[];
  clientCrl: string[];
  allowClearData?: boolean;
  allowCcc?: boolean;
  allowPlain?: boolean;
  tlsMin?: string;
  requireReuse: boolean;
  sessionReuseScope?: string;
  legacyEncoding?: string;
  dataDir?: string;
  logLevel?: string;
  workers?: string;
  adminListen?: string;
  xferlog?: string;
  runAs?: string;
  allowRoot?: boolean;
}

/** Who may log in and where each one lives (for the banner). */
export interface ServeUsers {
  /** The config's users and --user first, then the users file. */
  authenticator: Authenticator;
  /** The users file, watched while the server runs, or the database's accounts (close on shutdown). */
  store: {
    readonly where: string;
    close(): unknown;
    onChange(listener: (names: readonly string[]) => void): () => void;
  };
  /** The account a login of this name gets now (the config's shadows the users file's). */
  lookup(name: string): Promise<Account | undefined>;
  /** Accounts in the store at start. */
  stored: number;
  /** The config's and --user's logins with their hashes, as a cluster primary hands them to its workers. */
  entries: UserEntry[];
  /** Those logins as the authenticator looks them up (a reload announces what changed in them). */
  configured: UserTable;
  /** --user's logins (and the generated one), hashed once: a reload keeps them. */
  fromFlags: UserEntry[];
  /** Every account at setup (userDefaults applied): the config's and --user's first, then the users file's. */
  accounts: Account[];
  /** Every account now, in that order (a name in both: the first is the one used). */
  current(): Promise<Account[]>;
  /** The running sessions of every account follow it as looked up now (the userDefaults changed). */
  announceAll(): void;
  /** The login made up for this run when none was configured (printed in the banner). */
  generated?: { name: string; password: string };
  /** That login's account, until an account exists (then it ends: README, Quick start). */
  generatedLogin?: GeneratedLogin;
}

export interface ServeSetup {
  /** Everything but the logger, which the caller owns. */
  options: Omit<ServerOptions, 'logger'>;
  users: ServeUsers;
  /** PostgreSQL, when the accounts are there: shared by the nodes (close it after the server). */
  shared?: ServingState;
  /** The addresses both listeners listen on. */
  hosts: string[];
  /** Quota bookkeeping and rate buckets: kept across reloads, so uploads in flight stay counted. */
  limits: LimitsContext;
  /** Which accounts' trees show the same host directories (kept across reloads, as limits are). */
  trees: SharedTrees;
  /** From now on, `trees` follows this setup's accounts (the setup serves: at start, or reloaded). */
  follow(): void;
  /** Rewrites a server option error so it names the flag or config key the user wrote. */
  explain(err: unknown): unknown;
  /** The homes' storage (S3 connection): a reload's setup shares it, or retires it once replaced. */
  storage: StorageSetup;
  /**
   * After the server closed: releases what the storage holds (the S3 client's sockets) and writes
   * the quota usage still pending in usage.json (a full disk: a last attempt, else a warning).
   */
  close(): Promise<void>;
  /** The AWS_* environment the S3 storage was set up with (a reload uses it again). */
  env: AwsEnv;
}

/**
 * Turns flags and the config file (flags win) into server options, checked before anything listens.
 * A worker of `--workers N` passes the logins its primary made (`given`), so that every process
 * has the same ones (a generated password too).
 */
export async function serveSetup(
  flags: ServeFlags,
  config: FileConfig,
  given?: { users: UserEntry[]; generated?: UserEntry | undefined },
  logger?: Logger,
  /** The AWS_* environment (S3 credentials), and, for a reload, the running setup: its --user logins
   * (and generated one), limits and shared state are kept. */
  extra: {
    env?: AwsEnv;
    running?: Pick<ServeSetup, 'users' | 'limits' | 'trees' | 'shared' | 'env' | 'storage'>;
    /** Verifies a password against its stored hash (the default, counted: see serve.ts). */
    verify?: (plain: string, encoded: string, signal?: AbortSignal) => Promise<boolean>;
    /** The cost of the hashes made here (--user, a generated login, upgrades): see hash-cost.ts. */
    hashCost?: ScryptCost;
  } = {},
): Promise<ServeSetup> {
  const configFile = flags.config ?? '';
  /** The name of a setting as the user wrote it: the flag if given, else `FILE: key`. */
  const named = (flag: string, given: unknown, key: string): string =>
    given !== undefined || !flags.config ? `--${flag}` : `${configFile}: ${key}`;

  const root = path.resolve(flags.root ?? config.root ?? process.cwd());
  if (flags.root !== undefined || config.root !== undefined) {
    await requireDirectory(root, named('root', flags.root, 'root'));
  }
  // `--listen a,b` as the config's list: every address gets both listeners.
  const hosts = (flags.listen?.split(',').map((h) => h.trim()) ?? config.listen ?? ['::']).map((h) =>
    listenHost(h, named('listen', flags.listen, 'listen')),
  );
  const ports = defaultPorts();
  const explicitPort = portFlag(flags.explicitPort, 'explicit-port') ?? config.explicitPort ?? ports.explicit;
  const implicitPort = portFlag(flags.implicitPort, 'implicit-port') ?? config.implicitPort ?? ports.implicit;
  if (flags.cert.length !== flags.key.length)
    throw new FerryError('ERR_USAGE', 'Give one --key for each --cert.');
  let minVersion = config.tlsMinVersion;
  if (flags.tlsMin !== undefined) {
    minVersion = parseTlsVersion(flags.tlsMin);
    if (minVersion === undefined) {
      throw new FerryError('ERR_USAGE', `--tls-min: expected ${TLS_VERSION_CHOICES}, got "${flags.tlsMin}".`);
    }
  }
  const pasv = flags.pasvPorts ?? config.passivePorts;
  const running = extra.running;
  const env = extra.env ?? running?.env ?? {};
  const url = databaseUrlOf(config);
  // A reload keeps the database connections (the URL is a restart setting).
  const shared = running
    ? running.shared
    : url
      ? await openServingState(url, logger ?? silentLogger)
      : undefined;
  if (!shared && config.accounts?.file !== undefined)
    await requireUsersFile(config.accounts.file, configFile);
  const usersFile = usersFileOf(flags.dataDir, config);
  const file = shared
    ? shared.accounts
    : await UsersFileStore.open(usersFile, { logger }).catch(async (err: unknown) => {
        // A users file root made (0600) that the service user cannot read: say whose it is.
        const hint = await unreadableHint(usersFile, currentUserName());
        const message = (err as Error).message;
        throw new FerryError('ERR_USAGE', hint ? `${message.replace(/\.$/, '')}: ${hint}.` : message);
      });
  const offline = {
    offlineLoginMs: (config.accounts?.offlineLoginSeconds ?? 300) * 1000,
    ...(config.userDefaults ? { defaults: config.userDefaults } : {}),
    ...(logger ? { logger } : {}),
    ...(extra.verify ? { verify: extra.verify } : {}),
    ...(extra.hashCost ? { hashCost: extra.hashCost } : {}),
  };
  const users = given
    ? await usersGiven(given, file, offline, running?.users)
    : await usersFrom(flags, config, root, file, offline, running?.users);
  if (!given) await warnShadowed(users, file, logger); // once: a worker's primary has said it
  const storage = storageSetup(config.storage, env, `${configFile}: storage.s3`, running?.storage);
  const local = (home: string): boolean => home !== '' && !home.startsWith('s3://');
  // The config's users, and the anonymous account where it was set (the flag, or the config).
  const anonymous = users.entries.find((e) => e.anonymous);
  const anonymousKey = flags.anonymous !== undefined ? '--anonymous' : `${configFile}: anonymous`;
  const homes = [
    ...(config.users ?? []).map((u, i) => ({ u, key: `${configFile}: users.${i}` })),
    ...(anonymous ? [{ u: anonymous, key: anonymousKey }] : []),
  ];
  const fileHome = (a: { home: string; username: string }): HomeToCheck => ({
    home: a.home,
    where: `${file instanceof UsersFileStore ? file.file : file.where}: ${a.username}.home`,
    user: a.username,
  });
  const homeUnusable = (r: RefusedHome): void =>
    void logger?.error({ user: r.user, bucket: r.bucket, reason: r.reason }, 'home unusable: logins refused');
  try {
    for (const { u, key } of homes) {
      if (local(u.home)) await requireDirectory(u.home, `${key}.home`);
      for (const [at, dir] of Object.entries(u.folders ?? {}))
        await requireDirectory(dir, `${key}.folders.${at}`);
    }
    const refused = await storage.check([
      ...homes.map(({ u, key }) => ({ home: u.home, where: `${key}.home` })),
      ...(await file.all()).map(fileHome),
    ]);
    // One user's home bucket gone (deleted, or mistyped behind `ferry users`' back) stops only them.
    for (const r of refused) homeUnusable(r);
  } catch (err) {
    storage.retire(); // a rejected reload: the running setup's connection stays as it was
    throw err;
  }
  if (flags.user.length > 0 || users.generated)
    await requireDirectory(root, named('root', flags.root, 'root'));
  // Accounts the users file (or the database) changed while serving get the check a reload gives
  // them: one whose bucket cannot be used is refused at login (530) and logged, not served 550s.
  let closed = false;
  const offRecheck = file.onChange(
    (names) =>
      void recheckAccounts(names, {
        lookup: (n) => file.lookup(n),
        check: async (changed) => {
          for (const r of await storage.check(changed.map(fileHome))) homeUnusable(r);
        },
        closed: () => closed,
        logger,
      }),
  );

  const dataDir = dataDirOf(flags.dataDir, config);
  const defense = defenderOptions(config.defender, dataDir);
  // Quota usage lives in <dataDir>/usage.json (shared by all workers); rate buckets per process.
  // A change in a folder that other accounts' trees show changes their usage too (README: Quota):
  // the setup that serves follows its accounts (serve.ts).
  const trees = running?.trees ?? new SharedTrees();
  const limits: LimitsContext = running?.limits ?? {
    usage: new QuotaBook(shared ? shared.usage : new UsageFile(usageFileOf(dataDir), logger)),
    sharers: (name, p) => trees.others(name, p),
    rates: new RateBuckets(),
    ...(logger ? { logger } : {}),
  };
  const options: Omit<ServerOptions, 'logger'> = {
    explicit: explicitPort === 0 ? false : { host: hosts, port: explicitPort },
    implicit: implicitPort === 0 ? false : { host: hosts, port: implicitPort },
    authenticator: users.authenticator,
    ...(shared && !given ? { sharedBans: shared.bans } : {}),
    // The quota counts the home and the folders together (usage per user). The home is local or S3.
    storageFor: (p) => withLimits(userTree(p, onlyReads(p), storage.storageFor(p), storage), p, limits),
    tls: {
      certificates: [
        ...(config.certificates ?? []).map((c) => ({ certFile: c.cert, keyFile: c.key })),
        ...flags.cert.map((certFile, i) => ({
          certFile: path.resolve(certFile),
          keyFile: path.resolve(flags.key[i] ?? ''),
        })),
      ],
      dataDir,
      minVersion,
      ciphers: config.tlsCiphers,
      requireSessionReuse: flags.requireReuse === false ? false : (config.requireSessionReuse ?? true),
      sessionReuseScope: reuseScope(flags.sessionReuseScope) ?? config.sessionReuseScope,
      clientCaFiles: [
        ...(config.clientCertificates?.ca ?? []),
        ...flags.clientCa.map((f) => path.resolve(f)),
      ],
      clientCrlFiles: [
        ...(config.clientCertificates?.crl ?? []),
        ...flags.clientCrl.map((f) => path.resolve(f)),
      ],
    },
    cutUploadsFile: cutUploadsFileOf(dataDir),
    // With several nodes, in the database too: a resume reaching another node is refused as well.
    ...(shared ? { sharedCutUploads: shared.cutUploads } : {}),
    allowClearData: flags.allowClearData ?? config.allowClearData,
    allowCcc: flags.allowCcc ?? config.allowCcc,
    ...(config.denyFiles && { denyFiles: config.denyFiles }),
    ...(config.denyFilesIgnoreCase !== undefined && { denyFilesIgnoreCase: config.denyFilesIgnoreCase }),
    ...(config.hideDotFiles !== undefined && { hideDotFiles: config.hideDotFiles }),
    ...legacyEncodingOf(legacyFlag(flags.legacyEncoding) ?? config.legacyEncoding),
    allowPlainControl: flags.allowPlain ?? config.allowPlainControl,
    passive: {
      ...(pasv ? parsePortRange(pasv, named('pasv-ports', flags.pasvPorts, 'passivePorts')) : {}),
      address: flags.pasvAddress ?? config.passiveAddress,
    },
    timeouts: {
      ...defense.timeouts,
      ...(config.idleTimeoutSeconds ? { idleMs: config.idleTimeoutSeconds * 1000 } : {}),
      ...(config.dataTimeoutSeconds ? { dataIdleMs: config.dataTimeoutSeconds * 1000 } : {}),
      ...(config.dataConnectTimeoutSeconds ? { dataConnectMs: config.dataConnectTimeoutSeconds * 1000 } : {}),
      ...(config.commandTimeoutSeconds ? { commandMs: config.commandTimeoutSeconds * 1000 } : {}),
      ...(config.stopGraceSeconds !== undefined ? { closeGraceMs: config.stopGraceSeconds * 1000 } : {}),
    },
    ...(config.greeting !== undefined ? { greeting: config.greeting } : {}),
    limits: {
      ...defense.limits,
      maxSessions: config.maxSessions,
      maxSessionsPerAddress: config.maxSessionsPerAddress,
      maxHashes: config.maxHashes,
      maxHashesPerUser: config.maxHashesPerUser,
      hashMaxSize: config.hashMaxSize,
      maxCommandRate: config.maxCommandRate,
      maxCommandBurst: config.maxCommandBurst,
    },
    defender: defense.defender,
    ...(config.proxyProtocol
      ? {
          proxyProtocol: {
            trusted: config.proxyProtocol.trusted,
            required: config.proxyProtocol.required,
            headerTimeoutMs: secondsToMs(config.proxyProtocol.headerTimeoutSeconds),
          },
        }
      : {}),
  };

  // Server option keys (longest prefix first) and the flag or config key that sets them.
  const names: [string, string][] = [
    [
      'explicit/implicit',
      `${named('explicit-port', flags.explicitPort, 'explicitPort')} and ${named('implicit-port', flags.implicitPort, 'implicitPort')} are both 0 (off):`,
    ],
    ['explicit.port', named('explicit-port', flags.explicitPort, 'explicitPort')],
    ['implicit.port', named('implicit-port', flags.implicitPort, 'implicitPort')],
    ['explicit', named('listen', flags.listen, 'listen')],
    ['implicit', named('listen', flags.listen, 'listen')],
    ['tls.certificates', flags.cert.length > 0 ? '--cert/--key' : `${configFile}: certificates`],
    ['tls.clientCaFiles', flags.clientCa.length > 0 ? '--client-ca' : `${configFile}: clientCertificates.ca`],
    [
      'tls.clientCrlFiles',
      flags.clientCrl.length > 0 ? '--client-crl' : `${configFile}: clientCertificates.crl`,
    ],
    ['tls.dataDir', named('data-dir', flags.dataDir, 'dataDir')],
    ['tls.minVersion', named('tls-min', flags.tlsMin, 'tlsMinVersion')],
    ['tls.ciphers', `${configFile}: tlsCiphers`],
    ['greeting', `${configFile}: greeting`],
    ['timeouts.dataIdleMs', `${configFile}: dataTimeoutSeconds`],
    ['timeouts.dataConnectMs', `${configFile}: dataConnectTimeoutSeconds`],
    ['timeouts.commandMs', `${configFile}: commandTimeoutSeconds`],
    ['timeouts.closeGraceMs', `${configFile}: stopGraceSeconds`],
    ['passive.address', named('pasv-address', flags.pasvAddress, 'passiveAddress')],
    ['passive', named('pasv-ports', flags.pasvPorts, 'passivePorts')],
    ['timeouts.handshakeMs', `${configFile}: defender.handshakeTimeoutSeconds`],
    ['timeouts.loginMs', `${configFile}: defender.loginTimeoutSeconds`],
    ['timeouts', `${configFile}: idleTimeoutSeconds`],
    ['defender.allow', `${configFile}: defender.allow`],
    ['proxyProtocol.headerTimeoutMs', `${configFile}: proxyProtocol.headerTimeoutSeconds`],
    ['proxyProtocol', `${configFile}: proxyProtocol`],
    ['defender', `${configFile}: defender`],
    ['limits.maxSessionsPerAddress', `${configFile}: maxSessionsPerAddress`],
    ['limits.maxSessions', `${configFile}: maxSessions`],
  ];
  const explain = (err: unknown): unknown => {
    if (!(err instanceof OptionError)) return err;
    // Its message names the file as the command line or the config gave it already.
    if (err.cause instanceof CertificateError) return err.cause;
    const name = names.find(([key]) => err.key === key || err.key.startsWith(`${key}.`))?.[1];
    return name ? new FerryError('ERR_USAGE', `${name} ${err.detail}`) : err;
  };
  return {
    options,
    users,
    hosts,
    limits,
    trees,
    follow: () => trees.follow({ current: () => users.current(), onChange: (l) => users.store.onChange(l) }),
    env,
    explain,
    storage,
    close: async () => {
      closed = true;
      offRecheck();
      trees.close();
      storage.close();
      // The database's usage is closed with the rest of the shared state.
      const ledger = limits.usage?.ledger;
      if (ledger instanceof UsageFile) await ledger.close();
    },
    ...(shared ? { shared } : {}),
  };
}

const secondsToMs = (s: number | undefined): number | undefined => (s === undefined ? undefined : s * 1000);

async function requireDirectory(dir: string, what: string): Promise<void> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code})`;
    throw new FerryError('ERR_USAGE', `${what}: ${dir} ${why}.`);
  });
  if (!st.isDirectory()) throw new FerryError('ERR_USAGE', `${what}: ${dir} is not a directory.`);
}

function portFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new FerryError('ERR_USAGE', `--${name}: expected a port number 0-65535 (0 = off), got "${v}".`);
  }
  return n;
}

function reuseScope(v: string | undefined): 'connection' | 'user' | undefined {
  if (v === undefined || v === 'connection' || v === 'user') return v;
  throw new FerryError('ERR_USAGE', `--session-reuse-scope: expected connection or user, got "${v}".`);
}

const legacyEncodingOf = (e: LegacyEncoding | undefined): { legacyEncoding?: LegacyEncoding } =>
  e ? { legacyEncoding: e } : {};

function legacyFlag(v: string | undefined): LegacyEncoding | undefined {
  if (v === undefined || isLegacyEncoding(v)) return v;
  throw new FerryError(
    'ERR_USAGE',
    `--legacy-encoding: expected one of ${LEGACY_ENCODINGS.join(', ')}, got "${v}".`,
  );
}

/**
 * A users file named in the config must exist: a typo'd path would otherwise serve no users and
 * make up the `ferry` login over the current directory. (The default <dataDir>/users.yaml may be
 * absent: the quick start has none yet.)
 */
async function requireUsersFile(file: string, configFile: string): Promise<void> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => err.code ?? 'error');
  if (typeof st === 'string') {
    const why = st === 'ENOENT' || st === 'ENOTDIR' ? 'does not exist' : `cannot be read (${st})`;
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${configFile}: accounts.file: ${file} ${why}; create it with \`ferry users add NAME --config ${configFile}\` (or write \`users: []\` into it), or fix the path.`,
    );
  }
  if (!st.isFile())
    throw new FerryError('ERR_INVALID_OPTION', `${configFile}: accounts.file: ${file} is not a file.`);
}

/** The embedded users file, or the database's accounts. */
type Store = UsersFileStore | PgAccounts;

async function usersFrom(
  flags: ServeFlags,
  config: FileConfig,
  root: string,
  file: Store,
  cache: LoginCacheOptions,
  running?: ServeUsers,
): Promise<ServeUsers> {
  const anonymous =
    flags.anonymous === undefined
      ? config.anonymous
      : anonymousAccount({ home: path.resolve(flags.anonymous), readOnly: true });
  const configured: Account[] = [...(config.users ?? []), ...(anonymous ? [anonymous] : [])];
  if (running) {
    const entries = [...configured, ...running.fromFlags];
    const generated = running.generatedLogin;
    if (entries.length > 0 || (await file.all()).length > 0) generated?.end();
    if (!generated?.active) return usersOf(entries, file, cache, running.fromFlags);
    // Still nobody configured: the login made up at start stays the same.
    return usersOf(entries, file, cache, running.fromFlags, running.generated, generated);
  }
  const fromFlags: UserEntry[] = [];
  for (const spec of flags.user) {
    const { username, password } = await userFlagLogin(spec);
    const taken = anonymous && anonymousNameTaken(username);
    if (taken) throw new FerryError('ERR_USAGE', `--user: ${taken}; give the login another name.`);
    fromFlags.push({ username, passwordHash: await hashPassword(password, cache.hashCost), home: root });
  }
  // No users configured (anonymous FTP counts as one): a login for this run, printed once, until
  // an account exists. Not on a database: every node would make up its own password, each one
  // valid on one node only (so the balancer turns it down every other connection); a node with
  // no accounts in its database serves nobody until `ferry users add`.
  if (
    configured.length + fromFlags.length > 0 ||
    !(file instanceof UsersFileStore) ||
    (await file.all()).length > 0
  )
    return usersOf([...configured, ...fromFlags], file, cache, fromFlags);
  const generated = { name: 'ferry', password: randomBytes(12).toString('base64url') };
  const login = new GeneratedLogin(
    {
      username: generated.name,
      passwordHash: await hashPassword(generated.password, cache.hashCost),
      home: root,
    },
    cache.logger,
  );
  return usersOf(configured, file, cache, fromFlags, generated, login);
}

/**
 * A worker's logins, as its primary sent them: the generated login too while the primary still
 * has it (a worker follows the users file itself, and ends its copy as the primary does).
 */
async function usersGiven(
  given: { users: UserEntry[]; generated?: UserEntry | undefined },
  file: Store,
  cache: LoginCacheOptions,
  running?: ServeUsers,
): Promise<ServeUsers> {
  const kept = running?.generatedLogin;
  if (!given.generated) {
    kept?.end();
    return usersOf(given.users, file, cache, given.users);
  }
  const login = kept?.active ? kept : new GeneratedLogin(given.generated, cache.logger, true);
  return usersOf(given.users, file, cache, given.users, undefined, login);
}

/** A user of the configuration (or --user) hides the users file's entry of that name: say so. */
async function warnShadowed(users: ServeUsers, file: Store, logger: Logger | undefined): Promise<void> {
  const all = (await file.all()).map((a) => a.username);
  const stored = new Set(all);
  const both = users.entries.filter((e) => !e.anonymous && stored.has(e.username)).map((e) => e.username);
  if (both.length > 0)
    logger?.warn(
      { users: both, file: users.store.where },
      "users defined in the configuration (or --user) and in the users file: the configuration's entry is used",
    );
  // Anonymous FTP takes the names anonymous and ftp, in any case.
  const hidden = users.entries.some((e) => e.anonymous) ? all.filter(isAnonymousName) : [];
  if (hidden.length > 0)
    logger?.warn(
      { users: hidden, file: users.store.where },
      'users of the users file named as anonymous FTP logins cannot log in while anonymous FTP is on',
    );
}

async function usersOf(
  entries: UserEntry[],
  file: Store,
  cache: LoginCacheOptions,
  fromFlags: UserEntry[],
  generated?: ServeUsers['generated'],
  generatedLogin?: GeneratedLogin,
): Promise<ServeUsers> {
  const fixed = new UserTable(entries); // validates them
  const unfollow = generatedLogin?.follow(file);
  const stored = await file.all();
  // The generated login comes after the configuration's users, before the users file's: while it
  // lives there are none of either.
  const authenticator = new AccountAuthenticator(
    generatedLogin ? [fixed, generatedLogin, file] : [fixed, file],
    cache,
  );
  const store = {
    where: file instanceof UsersFileStore ? file.file : file.where,
    close: () => {
      unfollow?.();
      return file.close();
    },
    onChange: (listener: (names: readonly string[]) => void) => file.onChange(listener),
  };
  const ownEntries = (): UserEntry[] =>
    generatedLogin?.active ? [...entries, generatedLogin.entry] : entries;
  return {
    authenticator,
    store,
    stored: stored.length,
    entries,
    configured: fixed,
    fromFlags,
    accounts: [...ownEntries(), ...stored].map((a) => withDefaults(a, cache.defaults)),
    current: async () => [...ownEntries(), ...(await file.all())],
    announceAll: () =>
      authenticator.announce([...new Set([...ownEntries(), ...stored].map((a) => a.username))]),
    lookup: (name) => authenticator.lookup(name),
    ...(generated ? { generated } : {}),
    ...(generatedLogin ? { generatedLogin } : {}),
  };
}
