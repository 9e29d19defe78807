/**
 * What `cli/main.ts` loads for a client command (`get`, `put`, `ls`, …). `tsc` makes this a
 * re-export of client-commands.js; the build (scripts/bundle-client.mjs) replaces it with
 * client-commands.js and everything it imports in one file, less ../errors.js (main.ts's own), as
 * for 'ferry/client' (client/bundle.ts). The modules themselves stay as tsc made them.
 */
export * from './client-commands.js';
