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
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'src');
// errors.js (above); crypt-pool.js, which finds its worker's file beside itself (import.meta.url);
// serve-signals.js, whose handlers main.ts sets before it loads the server (serve-bundle.ts).
const shared = ['errors.js', 'auth/crypt-pool.js', 'cli/serve-signals.js'].map((f) => path.join(src, f));

const bundles = [
  { from: 'client/index.js', to: 'client/bundle.js' },
  {
    from: 'cli/client-commands.js',
    to: 'cli/client-bundle.js',
    also: "export { Command, CommanderError } from 'commander';",
    inline: ['commander'],
  },
  { from: 'cli/probe.js', to: 'cli/probe-bundle.js' },
  // The admin commands (cli/admin-bundle.ts): the entry with commander, each command's modules in
  // chunks beside it (admin-bundle-<hash>.js), loaded by import() when that command runs; code two
  // commands share is a chunk of its own, so each module is in one chunk and runs once. zod and
  // yaml (95 and 72 modules, yaml through the CommonJS loader) are bundled too.
  {
    from: 'cli/admin-commands.js',
    to: 'cli/admin-bundle.js',
    inline: ['commander', 'zod', 'yaml'],
    split: true,
  },
  // `ferry serve` and each of its workers (cli/serve-bundle.ts): ~210 modules and zod's 95; pino,
  // prom-client and commander (~80 CommonJS modules, each one resolved, read and wrapped by Node's
  // CommonJS loader) too: ~70 ms less CPU at each start. pino's transports (thread-stream, which
  // finds its worker file beside itself) would not work bundled: Ferry's log writes to a stream.
  {
    from: 'cli/serve.js',
    to: 'cli/serve-bundle.js',
    inline: ['zod', 'yaml', 'pino', 'prom-client', 'commander'],
    split: true,
  },
].map((b) => ({ ...b, from: path.join(src, b.from), to: path.join(src, b.to) }));

for (const { from, to, also, inline = [], split = false } of bundles) {
  const dir = path.dirname(to);
  const stem = path.basename(to, '.js');
  // The chunks of an earlier build: their names change with their content.
  if (split)
    for (const f of readdirSync(dir))
      if (f.startsWith(`${stem}-`) && /\.js(\.map)?$/.test(f)) rmSync(path.join(dir, f));
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
    ...(split
      ? { splitting: true, outdir: dir, entryNames: stem, chunkNames: `${stem}-[hash]` }
      : { outfile: to }),
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
            // As Node resolves an import (zod's ES modules, not its CommonJS copy); from this
            // script, whose node_modules are dist's.
            b.onResolve({ filter: new RegExp(`^${name}$`) }, () => ({
              path: fileURLToPath(import.meta.resolve(name)),
            }));
        },
      },
      {
        // What an inlined CommonJS package requires (pino's sonic-boom, prom-client's tdigest…) is
        // inlined too, resolved as Node would from the requiring file; else it stays an import.
        name: 'inline-requires',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => {
            if (
              args.kind !== 'require-call' ||
              !args.importer.includes('/node_modules/') ||
              isBuiltin(args.path)
            )
              return undefined;
            try {
              return { path: createRequire(args.importer).resolve(args.path) };
            } catch {
              return undefined; // an optional package not installed: left to fail at run time, as before
            }
          });
        },
      },
      {
        // prom-client's index requires all its modules at once, its default metrics (~20 modules and
        // @opentelemetry/api) among them, which `ferry serve` uses only with an admin listener: ~10%
        // of a server process's start. Each export of the index becomes a getter that requires its
        // module when first read (Node caches it: the same object every time after).
        name: 'lazy-prom-client',
        setup(b) {
          b.onLoad({ filter: /[\\/]node_modules[\\/]prom-client[\\/]index\.js$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replace(
              /^exports\.(\w+) =\s*(require\('[^']+'\)(?:\.\w+)?);$/gm,
              "Object.defineProperty(exports, '$1', { enumerable: true, get: () => $2 });",
            ),
            loader: 'js',
          }));
        },
      },
      {
        name: 'shared',
        setup(b) {
          b.onResolve({ filter: /(errors|crypt-pool|serve-signals)\.js$/ }, (args) => {
            const at = path.resolve(args.resolveDir, args.path);
            return shared.includes(at)
              ? { path: `./${path.relative(dir, at)}`.replace(/^\.\/\.\./, '..'), external: true }
              : undefined;
          });
        },
      },
    ],
  });
}
