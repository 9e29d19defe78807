/**
 * 'ferry/testing' is what an embedder imports to put a backend of its own through the storage
 * contract: it resolves from outside the package, and a backend that never settles an operation
 * fails that one test, saying what was expected, while the others still run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** An embedder's store over MemoryStorage whose write never hears its signal (the rest of its context kept). */
const SUITE = `
import { MemoryStorage } from 'ferry';
import { storageContract } from 'ferry/testing';
const never = new AbortController().signal;
storageContract('deaf writes', async (_t, seed) => {
  const inner = new MemoryStorage(seed ?? {});
  const write = inner.write.bind(inner);
  return Object.assign(inner, { write: (p, src, o, c) => write(p, src, o, { ...c, signal: never }) });
});
`;

test(
  "'ferry/testing': a write deaf to its signal fails its one test, with what was expected",
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-testing-'));
    try {
      await mkdir(path.join(dir, 'node_modules'));
      await symlink(REPO, path.join(dir, 'node_modules', 'ferry'));
      await writeFile(path.join(dir, 'contract.test.mjs'), SUITE);
      const r = await run(process.execPath, ['--test', '--test-reporter=tap', 'contract.test.mjs'], {
        cwd: dir,
        // A run of its own, reporting TAP, not a child reporting to this run (NODE_TEST_CONTEXT).
        env: { ...process.env, NODE_TEST_CONTEXT: undefined },
      }).catch((err: { stdout?: string; stderr?: string }) => err);
      const out = `${String(r.stdout ?? '')}${String(r.stderr ?? '')}`;
      assert.match(out, /^# fail 1$/m, out);
      assert.match(out, /^# cancelled 0$/m, out);
      assert.match(out, /not ok \d+ - stops a write on abort and keeps the old file/, out);
      assert.match(
        out,
        /no answer within 5000 ms: write\(\) rejects with FerryError ERR_ABORTED once c\.signal aborts/,
        out,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
