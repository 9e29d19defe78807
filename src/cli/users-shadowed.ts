import { anonymousNameTaken } from '../auth/anonymous.js';
import { FerryError } from '../errors.js';
import { loadConfig } from './config.js';

/**
 * The server takes a user of its config's `users:` list before the users file (or database) of the
 * same name: there, `ferry users` would report a change that the server never uses. Known only when
 * --config names that config.
 */
async function configUsers(
  configFile: string | undefined,
): Promise<{ users: ReadonlySet<string>; anonymous: boolean }> {
  if (configFile === undefined) return { users: new Set(), anonymous: false };
  const config = await loadConfig(configFile);
  return {
    users: new Set((config.users ?? []).map((u) => u.username)),
    anonymous: config.anonymous !== undefined,
  };
}

const shadowed = (names: readonly string[], configFile: string | undefined): string =>
  `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} also defined in ${configFile}'s users: list, which the server uses instead`;

/** A change to `name` refused before anything is written (exit 1), when the config's entry shadows it. */
export async function refuseShadowed(name: string, configFile: string | undefined): Promise<void> {
  if (!(await configUsers(configFile)).users.has(name)) return;
  throw new FerryError(
    'ERR_EXISTS',
    `${shadowed([name], configFile)}: a change here would have no effect, so nothing was changed (edit that entry, or remove it from ${configFile} first).`,
  );
}

/** A warning on stderr for those of `names` that the config's entries shadow (what is shown is not in use). */
export async function warnShadowed(names: readonly string[], configFile: string | undefined): Promise<void> {
  const { users } = await configUsers(configFile);
  const hit = names.filter((n) => users.has(n));
  if (hit.length === 0) return;
  process.stderr.write(
    `warning: ${shadowed(hit, configFile)}: what is shown here of ${hit.length > 1 ? 'them' : 'it'} is not in effect.\n`,
  );
}

/** A warning on stderr that what is shown of `name` is the config's entry, not the users file's. */
export function noteShadowing(name: string, configFile: string | undefined): void {
  process.stderr.write(
    `warning: ${shadowed([name], configFile)}: shown here is that entry (the users file's is not in effect).\n`,
  );
}

/**
 * Anonymous FTP answers to the names anonymous and ftp (any case) while the config enables it: an
 * account of such a name could never log in, so adding or changing one is refused (removing one
 * is not). Known only when --config names that config.
 */
export async function refuseAnonymousName(name: string, configFile: string | undefined): Promise<void> {
  const taken = (await configUsers(configFile)).anonymous && anonymousNameTaken(name);
  if (!taken) return;
  throw new FerryError(
    'ERR_EXISTS',
    `${taken} in ${configFile}'s anonymous: block: an account of that name could never log in, so nothing was changed (choose another name, or remove the anonymous: block first).`,
  );
}

/**
 * What `ferry users import` skips, as add refuses it: a name the config's `users:` list shadows,
 * and anonymous FTP's names while it is enabled. Known only when --config names that config.
 */
export async function importConflicts(
  configFile: string | undefined,
): Promise<(name: string) => string | undefined> {
  const { users, anonymous } = await configUsers(configFile);
  return (name) =>
    users.has(name)
      ? `also defined in ${configFile}'s users: list, which the server uses instead (edit that entry)`
      : anonymous
        ? anonymousNameTaken(name)
        : undefined;
}
