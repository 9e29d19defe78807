/**
 * What `cli/main.ts` loads for an admin command (`ferry users`, `bans`, `who`, `kick`, `db`,
 * `hash-password`), and for `--help`. `tsc` makes this a re-export of admin-commands.js; the build
 * (scripts/bundle-client.mjs) replaces it with admin-commands.js and commander in one file, and the
 * commands' modules, with the packages they need at start (zod, yaml), in chunks beside it
 * (admin-bundle-*.js) that a command loads when run: `ferry users list` loaded ~550 modules, which
 * cost more CPU than its work. main.ts makes its program from the commander here.
 */
export * from './admin-commands.js';
