// After tsc: replaces dist/src/client/bundle.js (a re-export of index.js) with index.js and what it
// imports in one file (see src/client/bundle.ts). npm packages and ../errors.js stay imports.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = path.join(root, 'dist', 'src', 'client');
const shared = path.join(root, 'dist', 'src', 'errors.js');

await build({
  entryPoints: [path.join(dir, 'index.js')],
  outfile: path.join(dir, 'bundle.js'),
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked', // through tsc's maps, back to src/
  logLevel: 'warning',
  plugins: [
    {
      // One FerryError class for the client and the server: errors.js is loaded, not copied.
      name: 'shared-errors',
      setup(b) {
        b.onResolve({ filter: /errors\.js$/ }, (args) =>
          path.resolve(args.resolveDir, args.path) === shared
            ? { path: '../errors.js', external: true }
            : undefined,
        );
      },
    },
  ],
});
