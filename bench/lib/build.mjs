// Builds the root package (tsc) when dist/ is missing or older than a source file, and bundles the
// client's entry points (scripts/bundle-client.mjs, a quarter of a second, the same files if run again)
// every time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { runProcess } from './run-process.mjs';

function* tsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/**
 * The first source file (the library, and the test support whose vsftpd start and certificate the
 * benchmark uses) whose compiled output is missing or older, or undefined.
 */
export function staleSource(root) {
  for (const src of [...tsFiles(path.join(root, 'src')), ...tsFiles(path.join(root, 'test', 'support'))]) {
    const out = path.join(root, 'dist', path.relative(root, src)).replace(/\.ts$/, '.js');
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) return path.relative(root, src);
  }
  return undefined;
}

/** Runs the root's `tsc -p tsconfig.json` if needed, then the client's bundling; returns a note. */
export async function buildIfNeeded(root, log) {
  const note = await compileIfNeeded(root, log);
  const r = await runProcess(process.execPath, [path.join(root, 'scripts', 'bundle-client.mjs')], {
    cwd: root,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`bundling the client failed:\n${(r.stdout + r.stderr).trim()}`);
  return note;
}

async function compileIfNeeded(root, log) {
  const stale = staleSource(root);
  if (!stale) return 'dist/ up to date';
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc))
    throw new Error(`dist/ is stale (${stale}) and ${tsc} is missing: run "npm ci" at the root`);
  log(`building the root package (${stale} is newer than its output) …`);
  const r = await runProcess(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], {
    cwd: root,
    timeoutMs: 600_000,
    env: { ...process.env },
  });
  if (r.code !== 0) {
    const errors = (r.stdout + r.stderr).trim().split('\n').slice(0, 10).join('\n');
    if (!existsSync(path.join(root, 'dist', 'src', 'index.js'))) throw new Error(`tsc failed:\n${errors}`);
    log(`warning: tsc reported errors (output was emitted anyway):\n${errors}`);
    return 'built (tsc reported errors, output emitted)';
  }
  return 'built';
}
