// Checks before a run: the peer tools are installed, and the root package's dist/ is built.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildIfNeeded } from './build.mjs';
import { CURL, OPENSSL } from './paths.mjs';
import { vsftpdMissing } from './vsftpd.mjs';

/** vsftpd (and its user and PAM service), curl and openssl. */
export function requireTools() {
  const missing = vsftpdMissing();
  if (missing) throw new Error(`${missing}: run "bash scripts/setup-peers.sh" as root`);
  for (const f of [CURL, OPENSSL])
    if (!existsSync(f)) throw new Error(`${f} not found: run "bash scripts/setup-peers.sh" as root`);
}

/** A short hash of the compiled library (dist/src/**\/*.js), to tell which build was measured. */
export function distFingerprint(root) {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) hash.update(path.relative(root, p)).update(readFileSync(p));
    }
  };
  walk(path.join(root, 'dist', 'src'));
  return hash.digest('hex').slice(0, 12);
}

/** Builds dist/ if stale (unless build is false); returns the note for the report and dist's hash. */
export async function prepareDist(root, distIndex, build, log) {
  const buildNote = build ? await buildIfNeeded(root, log) : 'build skipped (--no-build)';
  if (!existsSync(distIndex)) throw new Error(`${distIndex} missing: build the root package (npm run build)`);
  return { buildNote, distHash: distFingerprint(root) };
}
