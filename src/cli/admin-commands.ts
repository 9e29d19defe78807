import type { Command } from 'commander';

/**
 * The admin commands (`ferry users`, `bans`, `who`, `kick`, `db`, `hash-password`): what main.ts
 * loads for one of them, through admin-bundle.ts. Each loader imports only its command's modules; in
 * the order `ferry --help` lists them.
 */
export const ADMIN_COMMANDS = new Map<string, () => Promise<(program: Command) => void>>([
  ['users', async () => (await import('./users.js')).registerUsers],
  ['hash-password', async () => (await import('./hash-password.js')).hashPasswordCommand],
  ['bans', async () => (await import('./bans.js')).registerBans],
  ['who', async () => (await import('./who.js')).registerWho],
  ['kick', async () => (await import('./kick.js')).registerKick],
  ['db', async () => (await import('./db.js')).registerDb],
]);

/** main.ts makes its program from this copy, which the commands use too (admin-bundle.ts). */
export { Command, CommanderError } from 'commander';
