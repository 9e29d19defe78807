/**
 * Bandwidth limits per user (issue 9), over both modes: downloads and uploads are paced at the
 * user's rate, and the sessions of one user share it. Only lower bounds on durations are asserted
 * (a slow machine can only make a transfer slower); the rates reached are for the benchmark.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { withLimits } from '../../src/storage/limited.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import type { TestServer } from '../support/ferry.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { loginAs, MODES, randomData, textOf, useFerry, withClients, type Mode } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const MiB = 1024 * 1024;
const RATE = MiB; // bytes per second, both ways
let dir: string;
let table: UserTable;
let server: () => TestServer;

function login(mode: Mode, track: (c: RawFtp) => RawFtp): Promise<RawFtp> {
  return loginAs(server(), mode, `paced-${mode}`, track);
}

/** Milliseconds `fn` took. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe('bandwidth limits per user', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rate-'));
    const entries = [];
    for (const mode of MODES) {
      const home = path.join(dir, mode);
      await mkdir(home);
      await writeFile(path.join(home, 'two'), randomData(2 * MiB));
      await writeFile(path.join(home, 'one'), randomData(MiB));
      entries.push({ username: `paced-${mode}`, password: 'pw', home, uploadRate: RATE, downloadRate: RATE });
    }
    table = await testUsers(entries);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const rates = new RateBuckets(); // one per server: shared by all of a user's sessions
  server = useFerry(() => ({
    authenticator: table,
    storageFor: (p) => withLimits(new LocalStorage({ root: p.home }), p, { rates }),
  }));

  for (const mode of MODES) {
    test(`${mode}: 2 MiB down at 1 MiB/s takes at least 1.5 s`, async () => {
      await withClients(async (track) => {
        const ftp = await login(mode, track);
        let got: Buffer | undefined;
        const ms = await timed(async () => (got = await ftp.retrieve('two')));
        assert.equal(got?.length, 2 * MiB);
        assert.ok(ms >= 1500, `took ${ms.toFixed(0)} ms`);
      });
    });

    test(`${mode}: 2 MiB up at 1 MiB/s takes at least 1.5 s`, async () => {
      await withClients(async (track) => {
        const ftp = await login(mode, track);
        const ms = await timed(async () => {
          const [, r] = await ftp.store('up', randomData(2 * MiB));
          assert.equal(r.code, 226, textOf(r));
        });
        assert.equal((await stat(path.join(dir, mode, 'up'))).size, 2 * MiB);
        assert.ok(ms >= 1500, `took ${ms.toFixed(0)} ms`);
      });
    });

    test(`${mode}: four sessions of the user share the rate (1 MiB each at once: at least 3 s)`, async () => {
      await withClients(async (track) => {
        const sessions: RawFtp[] = [];
        for (let i = 0; i < 4; i++) sessions.push(await login(mode, track));
        // Shared, 4 MiB at 1 MiB/s: about 4 s; a bucket per session would let them finish in about 1 s.
        const ms = await timed(() => Promise.all(sessions.map((s) => s.retrieve('one'))));
        assert.ok(ms >= 3000, `took ${ms.toFixed(0)} ms`);
      });
    });
  }
});
