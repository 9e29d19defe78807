/**
 * What `cli/main.ts` loads for `ferry serve` (and each worker, which runs main.ts too). `tsc` makes
 * this a re-export of serve.js; the build (scripts/bundle-client.mjs) replaces it with serve.js and
 * what it imports, with zod, yaml, pino, prom-client and commander (the program main.ts makes for
 * `serve`: serve.ts exports it), and chunks beside it (serve-bundle-*.js) for what the server
 * loads only when used (PostgreSQL's modules): ~310 modules through Node's loader cost each server
 * process and each worker ~0.3 s more CPU at start (1.09 s against 0.75 s to the banner, one process).
 */
export * from './serve.js';
