/** What `cli/main.ts` loads for `ferry probe`: probe.js in one file after the build (client-bundle.ts). */
export * from './probe.js';
