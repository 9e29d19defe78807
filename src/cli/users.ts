import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import type { Account } from '../auth/account.js';
import { formatSize } from '../auth/account-fields.js';
import { fromAccount, USERNAME_PATTERN, type AccountInput } from '../auth/account-schema.js';
import { unusableBecause } from '../auth/authenticator.js';
import { certLoginOf } from '../auth/cert-login.js';
import { hashPassword } from '../auth/password.js';
import { formatPermissions } from '../auth/permissions.js';
import { UsageFile, type StoredUsage } from '../auth/usage-file.js';
import { editUsersFile, readUsersFile } from '../auth/users-file.js';
import { FerryError } from '../errors.js';
import { scanUsage } from '../storage/quota.js';
import { dataDirOf, loadConfig, usageFileOf, usersFileOf } from './config.js';
import { newPassword } from './password-input.js';
import { userTree } from './user-storage.js';
import { accountOptions, applyAccountFlags, type AccountFlags } from './users-options.js';

interface FileFlags {
  config?: string;
  dataDir?: string;
}

/** The users file these flags name: the config's accounts.file, else <data dir>/users.yaml. */
async function usersFile(f: FileFlags): Promise<string> {
  return usersFileOf(f.dataDir, f.config ? await loadConfig(f.config) : {});
}

/** The usage file of the server these flags name: <data dir>/usage.json. */
async function usageFile(f: FileFlags): Promise<UsageFile> {
  return new UsageFile(usageFileOf(dataDirOf(f.dataDir, f.config ? await loadConfig(f.config) : {})));
}

const hasQuota = (a: Account): boolean => Boolean(a.quotaSize || a.quotaFiles);

function where(cmd: Command): Command {
  return cmd
    .option('--config <file>', "the server's YAML config (its accounts.file or dataDir names the users file)")
    .option('--data-dir <dir>', 'data directory holding users.yaml (default ~/.ferry)');
}

function checkName(name: string): void {
  if (!USERNAME_PATTERN.test(name)) {
    throw new FerryError('ERR_USAGE', `user name "${name}": letters, digits, . _ - (1 to 64 characters).`);
  }
}

const unknownUser = (name: string, file: string): FerryError =>
  new FerryError('ERR_USAGE', `no user "${name}" in ${file}.`);

/** Sets a new password (prompted, from stdin, or generated and printed once). */
async function setPassword(a: Account, fromStdin: boolean): Promise<string | undefined> {
  const { password, generated } = await newPassword(a.username, fromStdin);
  a.passwordHash = await hashPassword(password);
  return generated ? password : undefined;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** `ferry users …`: edits the users file; a running server picks every change up by itself. */
export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('manage the accounts in the users file (a running server follows the changes)');

  accountOptions(where(users.command('add').argument('<name>').description('add an account')), true)
    .requiredOption('--home <dir>', "the user's home directory (their /)")
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, f: AccountFlags & FileFlags & { passwordStdin?: boolean }) => {
      checkName(name);
      const file = await usersFile(f);
      const account: Account = { username: name, passwordHash: '', home: '' };
      await applyAccountFlags(account, f);
      // Hashed before the file is locked: typing a password must not hold other edits up.
      // A certificate-only user gets no password to type or see (a random one, never shown).
      let generated: string | undefined;
      if (account.certLogin === 'cert-only' && f.passwordStdin !== true) {
        account.passwordHash = await hashPassword(randomBytes(32).toString('base64'));
      } else generated = await setPassword(account, f.passwordStdin === true);
      await editUsersFile(file, (accounts) => {
        if (accounts.has(name))
          throw new FerryError('ERR_USAGE', `user "${name}" already exists in ${file}.`);
        accounts.set(name, account);
      });
      say(`added ${name} to ${file}`);
      if (generated) say(`password for ${name}: ${generated}  (shown once)`);
    });

  accountOptions(
    where(users.command('set').argument('<name>').description("change an account's settings")),
    false,
  )
    .option('--home <dir>', "the user's home directory")
    .option('--enabled', 'allow logins again')
    .action(async (name: string, f: AccountFlags & FileFlags) => {
      const file = await usersFile(f);
      const stale = await editUsersFile(file, async (accounts) => {
        const a = accounts.get(name);
        if (!a) throw unknownUser(name, file);
        const had = hasQuota(a);
        const tree = JSON.stringify([a.home, a.folders]);
        await applyAccountFlags(a, f);
        return hasQuota(a) && (!had || tree !== JSON.stringify([a.home, a.folders]));
      });
      // Usage is tracked only under a quota: a record from an earlier quota, or of other folders
      // than the user has now, is stale (the next upload counts again).
      if (stale) await (await usageFile(f)).forget(name);
      say(`updated ${name} in ${file}`);
    });

  where(users.command('passwd').argument('<name>').description("set an account's password"))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, f: FileFlags & { passwordStdin?: boolean }) => {
      const file = await usersFile(f);
      if (!(await readUsersFile(file)).has(name)) throw unknownUser(name, file);
      const holder: Account = { username: name, passwordHash: '', home: '' };
      const generated = await setPassword(holder, f.passwordStdin === true);
      await editUsersFile(file, (accounts) => {
        const a = accounts.get(name);
        if (!a) throw unknownUser(name, file);
        a.passwordHash = holder.passwordHash;
      });
      say(`password of ${name} changed`);
      if (generated) say(`password for ${name}: ${generated}  (shown once)`);
    });

  where(
    users.command('rm').argument('<name>').description('remove an account (its running sessions end)'),
  ).action(async (name: string, f: FileFlags) => {
    const file = await usersFile(f);
    await editUsersFile(file, (accounts) => {
      if (!accounts.delete(name)) throw unknownUser(name, file);
    });
    await (await usageFile(f)).forget(name); // a later user of this name starts counted afresh
    say(`removed ${name} from ${file}`);
  });

  where(users.command('list').description('list the accounts'))
    .option('--json', 'JSON (no password hashes)')
    .action(async (f: FileFlags & { json?: boolean }) => {
      const accounts = [...(await readUsersFile(await usersFile(f))).values()];
      if (f.json) return say(JSON.stringify(accounts.map(publicView)));
      if (accounts.length === 0) return say('no users');
      const rows = accounts.map((a) => [a.username, statusOf(a), a.home]);
      const width = Math.max(4, ...rows.map((r) => r[0]?.length ?? 0));
      say(`${'NAME'.padEnd(width)}  ${'STATUS'.padEnd(8)}  HOME`);
      for (const [n = '', s = '', h = ''] of rows) say(`${n.padEnd(width)}  ${s.padEnd(8)}  ${h}`);
    });

  where(users.command('show').argument('<name>').description("show an account's settings"))
    .option('--json', 'JSON (no password hash)')
    .action(async (name: string, f: FileFlags & { json?: boolean }) => {
      const file = await usersFile(f);
      const a = (await readUsersFile(file)).get(name);
      if (!a) throw unknownUser(name, file);
      const usage = hasQuota(a) ? await (await usageFile(f)).get(name) : undefined;
      if (f.json) return say(JSON.stringify({ ...publicView(a), ...(usage ? { usage } : {}) }));
      for (const line of describe(a, usage)) say(line);
    });

  where(
    users
      .command('rescan')
      .argument('<name>')
      .description("recount the bytes and files under the user's home and folders (the quota usage)"),
  ).action(async (name: string, f: FileFlags) => {
    const file = await usersFile(f);
    const a = (await readUsersFile(file)).get(name);
    if (!a) throw unknownUser(name, file);
    const storage = userTree(a); // the home and its folders, as the quota counts them
    const usage = await scanUsage(storage, { sessionId: 'rescan', signal: new AbortController().signal });
    await (await usageFile(f)).set(name, usage);
    say(`${name}: ${formatSize(usage.bytes)} in ${usage.files} files`);
  });
}

/** An account as the users file has it, without the password hash. */
function publicView(a: Account): Omit<AccountInput, 'passwordHash'> {
  const { passwordHash: _hash, ...rest } = fromAccount(a);
  return rest;
}

function statusOf(a: Account): string {
  const why = unusableBecause(a);
  return why === undefined ? 'enabled' : why.startsWith('account expired') ? 'expired' : 'disabled';
}

const limit = (n: number | undefined, show: (n: number) => string): string =>
  n === undefined ? 'none' : show(n);

/** `used of limit (n%)`, or what is known when nothing is recorded yet. */
function usageOf(used: number | undefined, quota: number | undefined, show: (n: number) => string): string {
  if (!quota) return 'none';
  if (used === undefined)
    return `${show(quota)}; usage not counted yet (at first upload, or ferry users rescan)`;
  return `${show(used)} used of ${show(quota)} (${Math.floor((used * 100) / quota)}%)`;
}

function describe(a: Account, usage: StoredUsage | undefined): string[] {
  const rules = Object.entries(a.permissions ?? {}).sort(([x], [y]) => x.localeCompare(y));
  if (!a.permissions?.['/']) rules.unshift(['/', a.readOnly ? ['list', 'download'] : '*']);
  return [
    `name            ${a.username}`,
    `status          ${statusOf(a)}`,
    `home            ${a.home}`,
    `permissions     ${rules.map(([d, r]) => `${d}=${formatPermissions(r)}`).join('  ')}`,
    `max sessions    ${limit(a.maxSessions, String)}`,
    `allow from      ${a.allowFrom?.join(', ') ?? 'anywhere'}`,
    `expires         ${a.expires ?? 'never'}`,
    `quota size      ${usageOf(usage?.bytes, a.quotaSize, formatSize)}`,
    `quota files     ${usageOf(usage?.files, a.quotaFiles, String)}`,
    `upload rate     ${limit(a.uploadRate, (n) => `${formatSize(n)}/s`)}`,
    `download rate   ${limit(a.downloadRate, (n) => `${formatSize(n)}/s`)}`,
    `folders         ${
      Object.entries(a.folders ?? {})
        .map(([d, h]) => `${d}=${h}`)
        .join('  ') || 'none'
    }`,
    `client certs    ${a.clientCerts?.join(', ') ?? 'none'}`,
    `cert login      ${certLoginOf(a) ?? 'off'}`,
  ];
}
