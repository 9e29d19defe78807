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

/**
 * The zod modules among a bundle's `sources` that Ferry never uses: the translations of its messages
 * (60 locales, 376 KB of the 800 KB zod brought, parsed at each start; Ferry's messages are zod's
 * English ones, en.js). `import * as z from 'zod'` lets the bundler leave them out (and the JSON
 * Schema conversions: 230 KB of zod left); `import { z }` took zod whole. Throws when the bundle
 * holds no zod at all.
 */
export function unusedZod(sources: readonly string[]): string[] {
  if (!sources.some((s) => s.endsWith('zod/v4/classic/schemas.js'))) throw new Error('no zod in the bundle');
  return sources.filter((s) => /zod\/v4\/locales\/(?!en\.js)/.test(s));
}
