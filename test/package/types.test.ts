/**
 * The published type declarations work for an application: 'ferry' and 'ferry/client' type-check
 * under the strictest settings an application may use (exactOptionalPropertyTypes, no skipLibCheck),
 * and every package a published declaration imports is installed with Ferry (a dependency, with its
 * types: @types/pg as a devDependency left `pg`'s types missing, and `any`, for applications).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const CONSUMER = `
import { FerryServer, LimitedStorage, MemoryStorage, withFolders, withLimits, type StorageBackend } from 'ferry';
import { joinVPath, resolveVPath, VPATH_ROOT, type FileStat, type VPath } from 'ferry';
import { FerryClient, type Reply } from 'ferry/client';
// An embedder's own backend, put through the contract Ferry's backends pass.
import { storageContract, type Factory } from 'ferry/testing';
const factory: Factory = async (_t, seed) => new MemoryStorage(seed ?? {});
storageContract('MemoryStorage', factory);
export const storage: StorageBackend = withFolders(new MemoryStorage(), []);
export const parts = [FerryServer, LimitedStorage, withLimits, FerryClient];
export type R = Reply;
// A custom backend makes the VPaths its FileStats carry without a cast.
const dir: VPath = resolveVPath(VPATH_ROOT, 'reports/../logs');
export const stat: Pick<FileStat, 'path'> = { path: joinVPath(dir, 'today.log') };
// What reconfigure/reloadCertificates take, defender.scores' keys, passive.address's rules.
import type { CertificateMaterial, DefenderEvent, PassiveAddressRule, ServerOptions } from 'ferry';
export const reload = (s: FerryServer, o: ServerOptions, c: CertificateMaterial) => s.reconfigure(o, c);
export const scores: Partial<Record<DefenderEvent, number>> = { 'failed-login': 1 };
export const rules: PassiveAddressRule[] = ['192.0.2.1', { network: '10.0.0.0/8', address: '10.0.0.1' }];
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
    typeRoots: [path.join(REPO, 'node_modules/@types')],
  },
  files: ['consumer.ts'],
};

test("an application's strict type-check of 'ferry' and 'ferry/client' passes", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-types-'));
  try {
    await mkdir(path.join(dir, 'node_modules'));
    await symlink(REPO, path.join(dir, 'node_modules', 'ferry'));
    await writeFile(path.join(dir, 'consumer.ts'), CONSUMER);
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', dir]).catch((err: { stdout?: string }) => err);
    assert.ok(!('code' in r) || r.code === 0, `tsc reported:\n${r.stdout ?? ''}${String(r)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The published declarations: dist/src, less the test files package.json leaves out ('ferry/testing' is in). */
async function declarations(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await declarations(p)));
    else if (e.name.endsWith('.d.ts') && !e.name.includes('.test.')) out.push(p);
  }
  return out;
}

const packageOf = (spec: string): string =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);

test('every package a published declaration imports is a dependency, with its types', async () => {
  const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const deps = new Set(Object.keys(pkg.dependencies));
  const builtins = new Set(builtinModules);
  const imported = new Set<string>();
  for (const file of await declarations(path.join(REPO, 'dist/src'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(
      /^(?:import|export)\b[^;]*?from '([^'.][^']*)'|import\('([^'.][^']*)'\)/gm,
    )) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      imported.add(packageOf(spec));
    }
  }
  assert.ok(imported.size > 0);
  for (const name of imported) {
    assert.ok(deps.has(name), `${name} is imported by a published declaration but is not a dependency`);
    const own = JSON.parse(await readFile(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
      types?: string;
      typings?: string;
      exports?: unknown;
    };
    const typed =
      own.types !== undefined || own.typings !== undefined || /"types"/.test(JSON.stringify(own.exports));
    if (!typed)
      assert.ok(
        deps.has(`@types/${name}`),
        `${name} has no types of its own: @types/${name} must be a dependency`,
      );
  }
});

// Without esModuleInterop (a CommonJS application's tsc default), a default import of a module that
// has none (node:net, node:tls, node:http, pg) fails in the declarations, or with skipLibCheck
// silently types every Socket and Pool they name as `any`.
test('published declarations import Node built-ins and pg without a default import', async () => {
  const found: string[] = [];
  for (const file of await declarations(path.join(REPO, 'dist/src'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/^import (?:type )?\w+(?:, \{[^}]*\})? from '((?:node:)?\w+|pg)';/gm)) {
      const spec = m[1] ?? '';
      if (spec === 'pg' || spec.startsWith('node:') || builtinModules.includes(spec))
        found.push(`${path.relative(REPO, file)}: ${m[0]}`);
    }
  }
  assert.deepEqual(found, []);
});

test('the packed package holds the entries, their types, the licence and README, the source maps its modules name with their sources, and no tests', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO,
    maxBuffer: 16 << 20,
  });
  const packed = JSON.parse(stdout) as { files: { path: string }[] }[];
  const files = new Set((packed[0]?.files ?? []).map((f) => f.path));
  const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    exports: Record<string, { types: string; default: string }>;
  };
  const needed = ['LICENSE', 'README.md', 'package.json', ...Object.values(pkg.bin)];
  for (const e of Object.values(pkg.exports)) needed.push(e.types, e.default);
  for (const f of needed) assert.ok(files.has(f.replace(/^\.\//, '')), `${f} is not in the package`);
  // The storage contract and its helpers are 'ferry/testing', for embedders' backends; no other test code.
  const unwanted = [...files].filter(
    (f) =>
      /\.test\.|test-support|test-contract/.test(f) &&
      !/(^|\/)src\/storage\/test-(support|contract)\./.test(f),
  );
  assert.deepEqual(unwanted, []);
  // A module naming a map that is not shipped makes bundlers' source-map loaders (webpack, Vite)
  // warn once per module, and --enable-source-maps find nothing.
  const missing: string[] = [];
  for (const file of files) {
    if (!file.endsWith('.js')) continue;
    const text = await readFile(path.join(REPO, file), 'utf8');
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
    if (url === undefined) continue;
    const map = path.posix.join(path.posix.dirname(file), url);
    if (!files.has(map)) {
      missing.push(`${file} → ${map}`);
      continue;
    }
    const {
      sources,
      sourceRoot = '',
      sourcesContent = [],
    } = JSON.parse(await readFile(path.join(REPO, map), 'utf8')) as {
      sources: string[];
      sourceRoot?: string;
      sourcesContent?: (string | null)[];
    };
    // A source not shipped is fine when the map holds its text (commander, bundled into the CLI's
    // client bundle): loaders and --enable-source-maps read it from there.
    sources.forEach((source, i) => {
      const at = path.posix.normalize(path.posix.join(path.posix.dirname(map), sourceRoot, source));
      if (!files.has(at) && typeof sourcesContent[i] !== 'string') missing.push(`${map} → ${at}`);
    });
  }
  assert.deepEqual(missing, []);
});
