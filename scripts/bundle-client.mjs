// After tsc: the client's entry points each become one file (esbuild), so that a process that
// only transfers files loads one module instead of forty (~40-70 ms less CPU at start). Each entry
// is a re-export that tsc compiled (src/client/bundle.ts, src/cli/client-bundle.ts,
// src/cli/probe-bundle.ts), replaced here by what it re-exports and all that imports; the modules
// themselves stay as tsc made them, so running this again gives the same files.
// npm packages and errors.js stay imports: errors.js's classes are the ones the rest of Ferry (the
// server, cli/main.ts) throws and checks, so there must be one copy of them. The exception is
// commander in the CLI's client bundle: its eight CommonJS modules, loaded from ESM, cost ~25 ms of
// CPU at each start, ~10 as part of the bundle; main.ts takes Command and CommanderError from the
// bundle (cli/client-bundle.ts's second line, `also` here), so a client command uses that copy alone.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'src');
const shared = path.join(src, 'errors.js');

const bundles = [
  { from: 'client/index.js', to: 'client/bundle.js' },
  {
    from: 'cli/client-commands.js',
    to: 'cli/client-bundle.js',
    also: "export { Command, CommanderError } from 'commander';",
    inline: ['commander'],
  },
  { from: 'cli/probe.js', to: 'cli/probe-bundle.js' },
].map((b) => ({ ...b, from: path.join(src, b.from), to: path.join(src, b.to) }));

for (const { from, to, also, inline = [] } of bundles) {
  await build({
    // An entry with more than `from`'s exports is written here, not read from `to`: tsc's re-export
    // there is replaced by the bundle, and running this again must give the same file.
    ...(also
      ? {
          stdin: {
            contents: `export * from './${path.basename(from)}';\n${also}\n`,
            resolveDir: path.dirname(from),
          },
        }
      : { entryPoints: [from] }),
    outfile: to,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Packages stay imports, but those in `inline` (resolved here, as packages: 'external' would
    // not); bundled CommonJS (commander) calls require() for Node's modules, which esbuild's ESM
    // output lacks: the banner makes one.
    packages: 'external',
    ...(inline.length > 0 && {
      banner: {
        js: "import { createRequire as __ferryRequire } from 'node:module';\nconst require = __ferryRequire(import.meta.url);",
      },
    }),
    sourcemap: 'linked', // through tsc's maps, back to src/
    // Classes keep their names (NoGreetingError, not the _NoGreetingError a clash of names makes):
    // an error's constructor name is what a caller sees in a stack trace and may check.
    keepNames: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'inline',
        setup(b) {
          for (const name of inline)
            b.onResolve({ filter: new RegExp(`^${name}$`) }, () => ({
              path: createRequire(from).resolve(name),
            }));
        },
      },
      {
        name: 'shared-errors',
        setup(b) {
          b.onResolve({ filter: /errors\.js$/ }, (args) =>
            path.resolve(args.resolveDir, args.path) === shared
              ? { path: path.relative(path.dirname(to), shared), external: true }
              : undefined,
          );
        },
      },
    ],
  });
}
