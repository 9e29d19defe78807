// The homes and virtual folders a server running as its run-as user cannot use: root could read
// them all at the start, so nothing failed yet, but that user's logins get 451 on LIST or 550 on STOR.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../auth/account.js';
import { covers, onlyReads, permissionsAt } from '../auth/permissions.js';
import type { Logger } from '../logger.js';
import type { SystemUser } from './run-as.js';

/** What is checked of an account: its host directories and whether it may write there. */
export type AccountTree = Pick<Account, 'username' | 'home' | 'folders' | 'readOnly' | 'permissions'>;

/** Problems named one by one; more (a farm of homes all root's, say) are counted in one line. */
const MAX_WARNINGS = 10;

/**
 * The paths of the mount at `at` (the home at `/`, or a folder) where the account may write, relative
 * to the mount ('' for the mount itself): `at` when the rule deciding there grants more than list
 * and download, and each rule below it, not taken by a deeper mount, that does. An anonymous area
 * read-only but for /incoming is written only in incoming/. An account that only reads: none.
 */
function writtenIn(a: AccountTree, at: string, mounts: readonly string[]): string[] {
  const p = { ...a, readOnly: a.readOnly ?? false };
  if (onlyReads(p)) return [];
  const mountOf = (vpath: string): string =>
    mounts.filter((m) => covers(m, vpath)).reduce((x, y) => (y.length > x.length ? y : x), '/');
  const decided = [at, ...Object.keys(a.permissions ?? {}).filter((d) => d !== at && mountOf(d) === at)];
  return decided
    .filter((d) => [...permissionsAt(p, d)].some((x) => x !== 'list' && x !== 'download'))
    .map((d) => path.posix.relative(at, d));
}

interface Use {
  /** `the home of`, `the folder /team of`: what the directory is, for the first user naming it. */
  readonly what: string;
  readonly users: string[];
  /** Where below the directory its users may write ('' for the directory itself). */
  readonly writes: Set<string>;
}

/**
 * Run as the run-as user (its groups and ACLs count): each host directory of `accounts` (homes and
 * folders; S3 homes are not its to check) it cannot read and enter, or write where its accounts
 * may, one warning each naming the directory and its users. Each distinct directory is checked
 * once; an account named twice counts once, as its first entry (the config's shadows the users
 * file's).
 */
export async function homeAccessWarnings(
  user: SystemUser,
  accounts: readonly AccountTree[],
  max = MAX_WARNINGS,
): Promise<string[]> {
  const dirs = new Map<string, Use>();
  const seen = new Set<string>();
  for (const a of accounts) {
    if (seen.has(a.username)) continue;
    seen.add(a.username);
    const folders = Object.entries(a.folders ?? {});
    const mounts = ['/', ...folders.map(([at]) => at)];
    const trees: [string, string, string][] = [
      ['/', a.home, 'the home'],
      ...folders.map(([at, dir]): [string, string, string] => [at, dir, `the folder ${at}`]),
    ];
    for (const [at, dir, what] of trees) {
      if (dir === '' || dir.startsWith('s3://')) continue;
      const use = dirs.get(dir) ?? { what, users: [], writes: new Set<string>() };
      use.users.push(a.username);
      for (const rel of writtenIn(a, at, mounts)) use.writes.add(rel);
      dirs.set(dir, use);
    }
  }
  const out = (await Promise.all([...dirs].map(([dir, use]) => problemsWith(user, dir, use)))).flat();
  if (out.length <= max) return out;
  return [
    ...out.slice(0, max),
    `and ${out.length - max} more homes or folders ${user.name} cannot use (${out.length} in all): check the owners and modes of the users' directories`,
  ];
}

async function problemsWith(user: SystemUser, dir: string, use: Use): Promise<string[]> {
  const { R_OK, W_OK, X_OK } = constants;
  const fails = (at: string, mode: number): Promise<string | undefined> =>
    access(at, mode).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err.code ?? 'error',
    );
  const [first, ...others] = use.users;
  const whose = others.length === 0 ? first : `${first} and ${others.length} more`;
  const named = `${dir}, ${use.what} of ${whose}`;
  const read = await fails(dir, R_OK | X_OK);
  if (read === 'ENOENT')
    return [
      `${named}, does not exist: ${use.what === 'the home' ? 'those logins are refused' : 'nothing there can be used'}`,
    ];
  if (read) return [`${user.name} cannot read ${named}: listings and downloads there will fail`];
  const out: string[] = [];
  for (const rel of [...use.writes].sort()) {
    const at = path.join(dir, rel);
    const write = await fails(at, W_OK | X_OK);
    // A directory below that is not there yet: made by whoever may (not this check's to say).
    if (!write || (rel !== '' && write === 'ENOENT')) continue;
    const where = rel === '' ? named : `${at}, in ${use.what} of ${whose}`;
    out.push(`${user.name} cannot write ${where}: uploads and changes there will fail`);
  }
  return out;
}

/**
 * Follows the accounts as they change (the users file rewritten by `ferry users`, the database's
 * accounts), checking each changed one as the run-as user and logging what it cannot use; `follow`
 * again after a reload moves to the new accounts.
 */
export class HomeAccessWatch {
  #off: () => void = () => {};

  constructor(
    private readonly user: SystemUser,
    private readonly logger: Logger,
  ) {}

  /** Checks every account now (the warnings are returned) and follows `users`' changes from now on. */
  async follow(users: {
    readonly accounts: readonly AccountTree[];
    readonly store: { onChange(listener: (names: readonly string[]) => void): () => void };
    lookup(name: string): Promise<AccountTree | undefined>;
  }): Promise<string[]> {
    this.#off();
    this.#off = users.store.onChange((names) => {
      void this.#check(names, users.lookup);
    });
    return homeAccessWarnings(this.user, users.accounts);
  }

  stop(): void {
    this.#off();
  }

  async #check(
    names: readonly string[],
    lookup: (name: string) => Promise<AccountTree | undefined>,
  ): Promise<void> {
    try {
      const changed = await Promise.all(names.map((n) => lookup(n)));
      const accounts = changed.filter((a): a is AccountTree => a !== undefined);
      for (const w of await homeAccessWarnings(this.user, accounts)) this.logger.warn({ users: names }, w);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'the changed accounts could not be checked');
    }
  }
}
