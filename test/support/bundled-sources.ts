/** What an import trace's bundles (scripts/bundle-client.mjs) hold, by their source maps. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './peers.js';

/**
 * The sources (src/…ts, relative to the repository) of the files of the bundle `name`
 * (dist/src/cli/NAME.js and its chunks, NAME-<hash>.js) that a trace (import-trace.ts) names.
 */
export async function bundledSources(loaded: string, name: string): Promise<string[]> {
  const file = new RegExp(`/dist/src/cli/${name}(-[^/]*)?\\.js$`);
  const sources: string[] = [];
  for (const url of loaded.split('\n').filter((u) => file.test(u))) {
    const map = `${fileURLToPath(url)}.map`;
    const { sources: own } = JSON.parse(await readFile(map, 'utf8')) as { sources: string[] };
    sources.push(...own.map((s) => path.relative(REPO_ROOT, path.resolve(path.dirname(map), s))));
  }
  return sources;
}
