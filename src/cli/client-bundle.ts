/**
 * What `cli/main.ts` loads for a client command (`get`, `put`, `ls`, …). `tsc` makes this a
 * re-export of client-commands.js; the build (scripts/bundle-client.mjs) replaces it with
 * client-commands.js and everything it imports in one file, less ../errors.js (main.ts's own), as
 * for 'ferry/client' (client/bundle.ts). The modules themselves stay as tsc made them.
 * Commander too is bundled here, and main.ts makes its program from this copy: loading the package
 * (eight CommonJS modules) cost more CPU than all the client's own code.
 */
export * from './client-commands.js';
export { Command, CommanderError } from 'commander';
