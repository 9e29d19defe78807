import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { setPasswordHash, type Account, type AccountDirectory } from '../auth/account.js';
import { formatSize } from '../auth/account-fields.js';
import { fromAccount, USERNAME_PATTERN, type AccountInput } from '../auth/account-schema.js';
import { unusableBecause } from '../auth/authenticator.js';
import { certLoginOf } from '../auth/cert-login.js';
import { hashPassword, passwordHashProblem } from '../auth/password.js';
import { hashCostOf } from './hash-cost.js';
import { formatPermissions } from '../auth/permissions.js';
import { UsageFile, type StoredUsage } from '../auth/usage-file.js';
import { UsersFileDirectory } from '../auth/users-file.js';
import {
  DEFAULTED_KEYS,
  inheritedKeys,
  withDefaults,
  type DefaultedKey,
  type UserDefaults,
} from '../auth/user-defaults.js';
import { FerryError } from '../errors.js';
import { scanUsage } from '../storage/quota.js';
import { databaseUrlOf, dataDirOf, loadConfig, usageFileOf, usersFileOf } from './config.js';
import { openSharedState } from './shared-state.js';
import { newPassword, passwordFromStdin } from './password-input.js';
import { parseHashLines } from './hash-lines.js';
import { printableName } from './printable.js';
import { awsEnv, storageSetup } from './storage-config.js';
import { countedTree } from './user-storage.js';
import { recountUsage } from '../storage/usage-recount.js';
import { isS3Home } from '../storage/s3-connection.js';
import { accountOptions, applyAccountFlags, type AccountFlags } from './users-options.js';
import {
  importConflicts,
  noteShadowing,
  refuseAnonymousName,
  refuseShadowed,
  warnShadowed,
} from './users-shadowed.js';
import { configOption } from './config-option.js';
import { lookupUser } from './run-as.js';

interface FileFlags {
  config?: string;
  dataDir?: string;
}

type UsageRecords = Pick<UsageFile, 'get' | 'add' | 'replace' | 'forget'>;

/** Where the accounts and their quota usage are: PostgreSQL, or the users and usage files. */
interface Accounts {
  dir: AccountDirectory;
  usage: UsageRecords;
  /** The config's userDefaults: what an account that leaves a limit unset gets. */
  defaults?: UserDefaults;
  close(): Promise<void>;
}

/**
 * The accounts these flags name: the database when the config (or FERRY_DATABASE_URL) names one,
 * else the config's accounts.file or <data dir>/users.yaml, with <data dir>/usage.json. A command
 * that writes creates or upgrades the database's schema (as `ferry db migrate`); one that only
 * reads (`read`) changes nothing, and refuses a database not at this Ferry's schema.
 */
async function openAccounts(f: FileFlags, mode: 'migrate' | 'read'): Promise<Accounts> {
  const config = f.config ? await loadConfig(f.config) : {};
  const url = databaseUrlOf(config);
  const defaults = config.userDefaults ? { defaults: config.userDefaults } : {};
  if (url) {
    const shared = await openSharedState(url, undefined, mode);
    return { dir: shared.accounts, usage: shared.usage, close: () => shared.close(), ...defaults };
  }
  // A users file `sudo ferry users` creates is the runAs user's, so that the server can read it
  // and write it (hash upgrades) wherever it is (root's /etc/ferry too). Looked up only then: an
  // existing file keeps its owner, and editing it needs no such user on this machine.
  const file = usersFileOf(f.dataDir, config);
  const creating = mode === 'migrate' && process.getuid?.() === 0 && !existsSync(file);
  const runAs = creating ? config.runAs : undefined;
  const owner = runAs === undefined ? undefined : lookupUser(runAs, `${f.config}: runAs`);
  const usage = new UsageFile(usageFileOf(dataDirOf(f.dataDir, config)));
  // close: a change the file could not take yet (a recount's last step) is written or said lost.
  return { ...defaults, dir: new UsersFileDirectory(file, owner), usage, close: () => usage.close() };
}

/** Runs `fn` on the accounts the flags name, closing them after (`read`: see openAccounts). */
async function withAccounts<T>(
  f: FileFlags,
  fn: (a: Accounts) => Promise<T>,
  mode: 'migrate' | 'read' = 'migrate',
): Promise<T> {
  const a = await openAccounts(f, mode);
  try {
    return await fn(a);
  } finally {
    await a.close();
  }
}

const hasQuota = (a: Account): boolean => Boolean(a.quotaSize || a.quotaFiles);

function where(cmd: Command): Command {
  return cmd
    .addOption(configOption("the server's YAML config (its accounts.file or dataDir names the users file)"))
    .option('--data-dir <dir>', 'data directory holding users.yaml (default ~/.ferry)');
}

function checkName(name: string): void {
  if (!USERNAME_PATTERN.test(name)) {
    throw new FerryError(
      'ERR_USAGE',
      `user name "${name}": letters, digits, . _ - (1 to 64 characters, not dots alone).`,
    );
  }
}

const unknownUser = (name: string, file: string): FerryError =>
  new FerryError('ERR_USAGE', `no user "${name}" in ${file}.`);

/**
 * A user added without --home gets the default storage's home (`<prefix><name>/` on storage.s3):
 * only a config with storage.s3 gives one, so without it the home is asked for here, not at login.
 */
async function requireDefaultHome(name: string, f: FileFlags): Promise<void> {
  const config = f.config ? await loadConfig(f.config) : undefined;
  if (config?.storage?.s3) return;
  throw new FerryError(
    'ERR_USAGE',
    `--home: required for ${name}, unless --config names a config with storage.s3 (whose <prefix>${name}/ is then the home).`,
  );
}

/**
 * An `s3://` home's bucket is checked (HeadBucket) with the config's storage.s3 settings and
 * credentials, as `ferry serve` will: a mistyped bucket is refused here (exit 2), not at the next
 * start. A local home is checked by applyAccountFlags (it must be a directory).
 */
async function checkS3Home(home: string | undefined, f: FileFlags): Promise<void> {
  if (home === undefined || !isS3Home(home)) return;
  const config = f.config ? await loadConfig(f.config) : {};
  const setup = storageSetup(config.storage, awsEnv(), `${f.config ?? 'config'}: storage.s3`);
  try {
    await setup.checkHome(home, '--home');
  } finally {
    setup.close();
  }
}

/** Why an imported local home cannot serve (as add --home requires a directory), or undefined. */
async function homeProblem(home: string): Promise<string | undefined> {
  if (home === '' || isS3Home(home)) return undefined;
  const st = await stat(home).catch(() => undefined);
  return st?.isDirectory() ? undefined : `home ${home} is not a directory (create it first)`;
}

/** Sets a new password (prompted, from stdin, or generated and printed once). */
async function setPassword(a: Account, fromStdin: boolean): Promise<string | undefined> {
  const { password, generated } = await newPassword(a.username, fromStdin);
  a.passwordHash = await hashPassword(password, hashCostOf(process.env));
  return generated ? password : undefined;
}

interface HashFlags {
  passwordStdin?: boolean;
  passwordHash?: string;
  passwordHashStdin?: boolean;
}

/** A precomputed hash given by --password-hash or --password-hash-stdin, checked; else undefined. */
async function givenHash(f: HashFlags): Promise<string | undefined> {
  const ways = [f.passwordStdin, f.passwordHash !== undefined, f.passwordHashStdin].filter(Boolean).length;
  if (ways > 1)
    throw new FerryError(
      'ERR_USAGE',
      '--password-stdin, --password-hash and --password-hash-stdin: one at most.',
    );
  const hash = f.passwordHashStdin ? await passwordFromStdin() : f.passwordHash;
  if (hash === undefined) return undefined;
  const problem = passwordHashProblem(hash.trim());
  if (problem) throw new FerryError('ERR_USAGE', `--password-hash: ${problem}.`);
  return hash.trim();
}

/** The hash options of `add` and `set`. */
function hashOptions(cmd: Command): Command {
  return cmd
    .option(
      '--password-hash <hash>',
      "a hash made elsewhere: Ferry's scrypt$..., or $6$/$5$ (crypt), $2b$ (bcrypt), $apr1$/$1$ (MD5-crypt)",
    )
    .option('--password-hash-stdin', 'read that hash from standard input (kept out of ps)');
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);
/** What the user should know of flags that did nothing (stderr: stdout stays the result). */
const tell = (notes: readonly string[]): void => notes.forEach((n) => process.stderr.write(`ferry: ${n}\n`));

/** `ferry users …`: edits the users file; a running server picks every change up by itself. */
export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('manage the accounts in the users file (a running server follows the changes)');

  hashOptions(
    accountOptions(where(users.command('add').argument('<name>').description('add an account')), true),
  )
    .option(
      '--home <dir>',
      "the user's home directory (their /), or s3://bucket/prefix/; absent: <prefix><name>/ on the config's storage.s3",
    )
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, f: AccountFlags & FileFlags & HashFlags) => {
      checkName(name);
      await refuseShadowed(name, f.config);
      await refuseAnonymousName(name, f.config);
      if (f.home === undefined) await requireDefaultHome(name, f);
      const hash = await givenHash(f);
      const account: Account = { username: name, passwordHash: hash ?? '', home: '' };
      tell(await applyAccountFlags(account, f));
      await checkS3Home(f.home, f);
      // Hashed before the file is locked: typing a password must not hold other edits up.
      // A certificate-only user gets no password to type or see (a random one, never shown).
      let generated: string | undefined;
      if (hash !== undefined) {
        // Given: kept as it is (a crypt hash becomes scrypt at the first login).
      } else if (account.certLogin === 'cert-only' && f.passwordStdin !== true) {
        account.passwordHash = await hashPassword(
          randomBytes(32).toString('base64'),
          hashCostOf(process.env),
        );
      } else generated = await setPassword(account, f.passwordStdin === true);
      await withAccounts(f, async ({ dir }) => {
        if (!(await dir.add(account)))
          throw new FerryError('ERR_USAGE', `user "${name}" already exists in ${dir.where}.`);
        say(`added ${name} to ${dir.where}`);
      });
      if (generated) say(`password for ${name}: ${generated}  (shown once)`);
    });

  hashOptions(
    accountOptions(
      where(users.command('set').argument('<name>').description("change an account's settings")),
      false,
    ),
  )
    .option('--home <dir>', "the user's home directory")
    .option('--enabled', 'allow logins again')
    .action(async (name: string, f: AccountFlags & FileFlags & HashFlags) => {
      await refuseShadowed(name, f.config);
      await refuseAnonymousName(name, f.config);
      await checkS3Home(f.home, f); // before the users file is locked
      const hash = await givenHash(f);
      await withAccounts(f, async ({ dir, usage, defaults }) => {
        // A quota the account inherits from userDefaults counts as much as its own.
        const quota = (a: Account): boolean => hasQuota(withDefaults(a, defaults));
        let notes: string[] = [];
        let unchanged = false;
        const edited = await dir.update(name, async (a) => {
          const was = JSON.stringify(a);
          if (hash !== undefined && hash !== a.passwordHash) {
            setPasswordHash(a, hash);
          }
          const had = quota(a);
          const tree = JSON.stringify([a.home, a.folders]);
          notes = await applyAccountFlags(a, f);
          unchanged = JSON.stringify(a) === was;
          return quota(a) && (!had || tree !== JSON.stringify([a.home, a.folders]));
        });
        if (!edited) throw unknownUser(name, dir.where);
        // Usage is tracked only under a quota: a record from an earlier quota, or of other folders
        // than the user has now, is stale (the next upload counts again).
        if (edited.result) await usage.forget(name);
        tell(notes);
        say(unchanged ? `${name} unchanged in ${dir.where}` : `updated ${name} in ${dir.where}`);
      });
    });

  where(users.command('passwd').argument('<name>').description("set an account's password"))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, f: FileFlags & { passwordStdin?: boolean }) => {
      await refuseShadowed(name, f.config); // before a password is asked for
      await refuseAnonymousName(name, f.config);
      await withAccounts(f, async ({ dir }) => {
        if (!(await dir.get(name))) throw unknownUser(name, dir.where);
        const holder: Account = { username: name, passwordHash: '', home: '' };
        const generated = await setPassword(holder, f.passwordStdin === true);
        const done = await dir.update(name, (a) => setPasswordHash(a, holder.passwordHash));
        if (!done) throw unknownUser(name, dir.where);
        say(`password of ${name} changed`);
        if (generated) say(`password for ${name}: ${generated}  (shown once)`);
      });
    });

  where(
    users
      .command('import')
      .argument('<file>', 'an htpasswd file, an /etc/shadow-style file, or a passwd-style AuthUserFile')
      .description('add the users of another server, keeping their password hashes (in one write)'),
  )
    .option('--home-base <dir>', 'homes are <dir>/<name> (a passwd-style file names its own)')
    .action(async (file: string, f: FileFlags & { homeBase?: string }) => {
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new FerryError('ERR_USAGE', `${file}: cannot read (${err.code ?? err.message}).`);
      });
      const base = f.homeBase === undefined ? undefined : path.resolve(f.homeBase);
      const parsed = parseHashLines(text, base);
      const { skipped } = parsed;
      // What add refuses is skipped here too: a name the config shadows or anonymous FTP answers
      // to, a home that is not a directory (its user would get 530 at every login).
      const conflict = await importConflicts(f.config);
      const accounts: Account[] = [];
      for (const a of parsed.accounts) {
        const reason = conflict(a.username) ?? (await homeProblem(a.home));
        if (reason) skipped.push({ line: parsed.lines.get(a.username) ?? 0, name: a.username, reason });
        else accounts.push(a);
      }
      // Names already present are known only once the file is written: all are reported then, in line order.
      let taken: typeof skipped = [];
      try {
        if (accounts.length === 0) throw new FerryError('ERR_USAGE', `no usable user in ${file}.`);
        if (accounts.some((a) => a.home === '')) await requireDefaultHome('users without --home-base', f);
        await withAccounts(f, async ({ dir }) => {
          const reason = `already a user in ${dir.where}`;
          taken = (await dir.addAll(accounts)).map((name) => ({
            line: parsed.lines.get(name) ?? 0,
            name,
            reason,
          }));
          const added = accounts.length - taken.length;
          say(`imported ${added} of ${added + skipped.length + taken.length} users into ${dir.where}`);
        });
      } finally {
        for (const s of [...skipped, ...taken].sort((x, y) => x.line - y.line))
          process.stderr.write(`${file}:${s.line}: ${s.name || '(no name)'} skipped: ${s.reason}\n`);
      }
      // A script must see that users were left out (a missing home, a bad line): exit 1, as newusers
      // does. Names already present are not a failure: running the import again stays exit 0.
      if (skipped.length > 0) {
        process.stderr.write(`ferry: ${skipped.length} of the file's users not imported (see above)\n`);
        process.exitCode = 1;
      }
    });

  where(
    users.command('rm').argument('<name>').description('remove an account (its running sessions end)'),
  ).action(async (name: string, f: FileFlags) => {
    await refuseShadowed(name, f.config);
    await withAccounts(f, async ({ dir, usage }) => {
      if (!(await dir.remove(name))) throw unknownUser(name, dir.where);
      await usage.forget(name); // a later user of this name starts counted afresh
      say(`removed ${name} from ${dir.where}`);
    });
  });

  where(users.command('list').description('list the accounts'))
    .option('--json', 'JSON (no password hashes)')
    .action(async (f: FileFlags & { json?: boolean }) => {
      const accounts = await withAccounts(f, ({ dir }) => dir.list(), 'read');
      await warnShadowed(
        accounts.map((a) => a.username),
        f.config,
      );
      // The config's users too (the server looks them up first), marked: ferry users cannot change them.
      const fixed = await configAccounts(f.config);
      if (f.json)
        return say(
          JSON.stringify([
            ...fixed.map((a) => ({ ...publicView(a), from: 'config' })),
            ...accounts.map(publicView),
          ]),
        );
      if (accounts.length + fixed.length === 0) return say('no users');
      const rows = [
        ...fixed.map((a) => [a.username, statusOf(a), `${homeOf(a)}  ${FROM_CONFIG}`]),
        ...accounts.map((a) => [a.username, statusOf(a), homeOf(a)]),
      ];
      const width = Math.max(4, ...rows.map((r) => r[0]?.length ?? 0));
      say(`${'NAME'.padEnd(width)}  ${'STATUS'.padEnd(8)}  HOME`);
      for (const [n = '', s = '', h = ''] of rows) say(`${n.padEnd(width)}  ${s.padEnd(8)}  ${h}`);
    });

  where(users.command('show').argument('<name>').description("show an account's settings"))
    .option('--json', 'JSON (no password hash)')
    .action(async (name: string, f: FileFlags & { json?: boolean }) => {
      // The config's entry is the one the server uses (and shadows the users file's).
      const fixed = (await configAccounts(f.config)).find((c) => c.username === name);
      const { a, usage, defaults, stored } = await withAccounts(
        f,
        async ({ dir, usage, defaults }) => {
          const stored = await dir.get(name);
          const a = fixed ?? stored;
          if (!a) throw unknownUser(name, dir.where);
          const quota = hasQuota(withDefaults(a, defaults));
          return { a, defaults, stored, usage: quota ? await usage.get(name) : undefined };
        },
        'read',
      );
      if (fixed && stored) noteShadowing(name, f.config);
      const inherited = inheritedKeys(a, defaults);
      if (f.json) {
        const from =
          inherited.length > 0 ? { effective: effectiveView(a, defaults), fromUserDefaults: inherited } : {};
        const source = fixed ? { from: 'config' } : {};
        return say(JSON.stringify({ ...publicView(a), ...source, ...from, ...(usage ? { usage } : {}) }));
      }
      for (const line of describe(a, usage, defaults)) say(line);
      if (fixed) say(`from            ${f.config} (users:)  ${FROM_CONFIG}`);
    });

  where(
    users
      .command('rescan')
      .argument('<name>')
      .description("recount the bytes and files under the user's home and folders (the quota usage)"),
  ).action(async (name: string, f: FileFlags) =>
    withAccounts(f, async ({ dir, usage: records }) => {
      // A user of the config's `users:` too: read-only here, but its usage is the server's record.
      const a = (await configAccounts(f.config)).find((c) => c.username === name) ?? (await dir.get(name));
      if (!a) throw unknownUser(name, dir.where);
      // The home on the storage `ferry serve` would give it (local disk, or S3 per storage.s3).
      const config = f.config ? await loadConfig(f.config) : {};
      const homes = storageSetup(config.storage, awsEnv(), `${f.config ?? 'config'}: storage.s3`);
      try {
        const storage = countedTree(a, homes); // the home and its folders, as the quota counts them
        let tooLong = 0; // entries whose paths pass 4096 characters: not reached, not counted
        const unreadable: string[] = [];
        const c = {
          sessionId: 'rescan',
          signal: new AbortController().signal,
          tooLong: () => void tooLong++,
          unreadable: (d: string) => void unreadable.push(d),
        };
        // Stored unless the server recorded a change of theirs during the scan (then scanned again).
        const { after: usage } = await recountUsage(records, name, () => scanUsage(storage, c));
        const skipped = [
          ...(tooLong > 0 ? [`${tooLong} ${tooLong === 1 ? 'entry' : 'entries'} past 4096 characters`] : []),
          ...(unreadable.length > 0 ? [`unreadable ${unreadable.map(printableName).join(', ')}`] : []),
        ];
        const note = skipped.length > 0 ? ` (not counted: ${skipped.join('; ')})` : '';
        say(`${name}: ${formatSize(usage.bytes)} in ${usage.files} files${note}`);
      } finally {
        homes.close();
      }
    }),
  );
}

/** The mark of a config `users:` account: what `ferry users` shows of it but never changes. */
const FROM_CONFIG = '(config; read-only here: edit the config)';

/** The accounts of the config's `users:` list, when --config names one. */
async function configAccounts(configFile: string | undefined): Promise<Account[]> {
  return configFile === undefined ? [] : ((await loadConfig(configFile)).users ?? []);
}

/** An account as the users file has it, without the password hash. */
function publicView(a: Account): Omit<AccountInput, 'passwordHash'> {
  const { passwordHash: _hash, ...rest } = fromAccount(a);
  return rest;
}

/** The limits the account has in effect (its own, else userDefaults'). */
function effectiveView(a: Account, defaults: UserDefaults | undefined): Partial<Pick<Account, DefaultedKey>> {
  const e = withDefaults(a, defaults);
  return Object.fromEntries(DEFAULTED_KEYS.filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));
}

/** The home as written, or the default storage's (the account names none). */
const homeOf = (a: Account): string => a.home || `(default: storage.s3 <prefix>${a.username}/)`;

function statusOf(a: Account): string {
  const why = unusableBecause(a);
  return why === undefined ? 'enabled' : why.startsWith('account expired') ? 'expired' : 'disabled';
}

const yesNo = (b: boolean | undefined): string => (b ? 'yes' : 'no');

const limit = (n: number | undefined, show: (n: number) => string): string => (!n ? 'none' : show(n));

/** `used of limit (n%)`, or what is known when nothing is recorded yet. */
function usageOf(used: number | undefined, quota: number | undefined, show: (n: number) => string): string {
  if (!quota) return 'none';
  if (used === undefined)
    return `${show(quota)}; usage not counted yet (at first upload, or ferry users rescan)`;
  return `${show(used)} used of ${show(quota)} (${Math.floor((used * 100) / quota)}%)`;
}

function describe(
  own: Account,
  usage: StoredUsage | undefined,
  defaults: UserDefaults | undefined,
): string[] {
  const a = withDefaults(own, defaults);
  const inherited = new Set<string>(inheritedKeys(own, defaults));
  /** Marks a value the account takes from the config's userDefaults. */
  const from = (key: DefaultedKey, text: string): string =>
    inherited.has(key) ? `${text}  (userDefaults)` : text;
  const rules = Object.entries(a.permissions ?? {})
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([d, r]) => `${d}=${formatPermissions(r)}`);
  // Without a rule of its own at /, readOnly decides there: only that may come from userDefaults.
  if (!a.permissions?.['/']) rules.unshift(from('readOnly', `/=${a.readOnly ? 'list,download' : '*'}`));
  return [
    `name            ${a.username}`,
    `status          ${statusOf(a)}`,
    `home            ${homeOf(a)}`,
    `permissions     ${rules.join('  ')}`,
    `read only       ${from('readOnly', yesNo(a.readOnly))}${a.permissions?.['/'] ? '  (the rule for / wins)' : ''}`,
    `hide dot-files  ${a.hideDotFiles === undefined ? "the server's hideDotFiles" : yesNo(a.hideDotFiles)}`,
    `deny files      ${a.denyFiles ? `${a.denyFiles.join('  ')}  (besides the server's denyFiles)` : "the server's denyFiles"}`,
    `max sessions    ${from('maxSessions', limit(a.maxSessions, String))}`,
    `allow from      ${a.allowFrom?.join(', ') ?? 'anywhere'}`,
    `expires         ${a.expires ?? 'never'}`,
    `quota size      ${from('quotaSize', usageOf(usage?.bytes, a.quotaSize, formatSize))}`,
    `quota files     ${from('quotaFiles', usageOf(usage?.files, a.quotaFiles, String))}`,
    `upload rate     ${from(
      'uploadRate',
      limit(a.uploadRate, (n) => `${formatSize(n)}/s`),
    )}`,
    `download rate   ${from(
      'downloadRate',
      limit(a.downloadRate, (n) => `${formatSize(n)}/s`),
    )}`,
    `folders         ${
      Object.entries(a.folders ?? {})
        .map(([d, h]) => `${d}=${h}`)
        .join('  ') || 'none'
    }`,
    `client certs    ${a.clientCerts?.join(', ') ?? 'none'}`,
    `cert login      ${certLoginOf(a) ?? 'off'}`,
    ...(a.hash === false ? [`hash            ${from('hash', 'off (HASH refused, left out of FEAT)')}`] : []),
  ];
}
