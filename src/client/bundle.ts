/**
 * What 'ferry/client' (and the client part of 'ferry') loads. `tsc` makes this a re-export of
 * index.js; the build (scripts/bundle-client.mjs) then replaces it with index.js and everything it
 * imports in one file, less ../errors.js (the classes the server's modules throw too), so that an
 * application that only transfers files loads one module instead of forty: 40-70 ms less CPU at
 * start (README, "From code"). Without the build step it works the same, slower.
 */
export * from './index.js';
