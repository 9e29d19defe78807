/**
 * What `npm pack` ships: every compiled module's source map is in the package, and every source a
 * map names too, so that bundlers' source-map loaders and `node --enable-source-maps` find them
 * (a map left out makes webpack and Vite warn once per module). No test files are shipped.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { REPO_ROOT } from '../support/peers.js';

const run = promisify(execFile);

async function packedFiles(): Promise<Set<string>> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO_ROOT,
    maxBuffer: 16 << 20,
  });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  return new Set(pack.files.map((f) => f.path));
}

test('the package ships the source maps its modules name, and the sources those maps name', async () => {
  const files = await packedFiles();
  const missing: string[] = [];
  for (const file of files) {
    if (!file.endsWith('.js')) continue;
    const text = await readFile(path.join(REPO_ROOT, file), 'utf8');
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
    if (url === undefined) continue;
    const map = path.posix.join(path.posix.dirname(file), url);
    if (!files.has(map)) {
      missing.push(`${file} → ${map}`);
      continue;
    }
    const { sources, sourceRoot = '' } = JSON.parse(await readFile(path.join(REPO_ROOT, map), 'utf8')) as {
      sources: string[];
      sourceRoot?: string;
    };
    for (const source of sources) {
      const at = path.posix.normalize(path.posix.join(path.posix.dirname(map), sourceRoot, source));
      if (!files.has(at)) missing.push(`${map} → ${at}`);
    }
  }
  assert.deepEqual(missing, []);
  const tests = [...files].filter((f) => /\.test\.|test-support|test-contract|^test\//.test(f));
  assert.deepEqual(tests, [], 'no test files are shipped');
});
