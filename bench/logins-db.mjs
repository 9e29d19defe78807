#!/usr/bin/env node
// Login latency with the accounts in PostgreSQL versus the users file: the time from PASS to 230
// (the account lookup, the login cache, the session count), over implicit FTPS on loopback, N
// sequential logins per store after one warm-up. Needs the build (`npm run build`) and, as root,
// PostgreSQL 15 (scripts/setup-postgres.sh). `node bench/logins-db.mjs [N]`
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { TestPostgres } = await import(path.join(dist, 'test/support/postgres.js'));
const { startFerry } = await import(path.join(dist, 'test/support/ferry.js'));
const { RawFtp } = await import(path.join(dist, 'test/support/raw-ftp.js'));
const { AccountAuthenticator } = await import(path.join(dist, 'src/auth/authenticator.js'));
const { hashPassword } = await import(path.join(dist, 'src/auth/password.js'));
const { UsersFileStore, writeUsersFile } = await import(path.join(dist, 'src/auth/users-file.js'));
const { openServingState } = await import(path.join(dist, 'src/cli/shared-state.js'));

const N = Number(process.argv[2] ?? 200);
const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-logins-'));
const account = { username: 'bench', passwordHash: await hashPassword('pw'), home: dir, maxSessions: 100 };

async function measure(label, store, counter) {
  const ts = await startFerry({ authenticator: new AccountAuthenticator([store]) });
  if (counter) ts.server.countUserSessionsWith(counter);
  const times = [];
  try {
    for (let i = 0; i <= N; i++) {
      const ftp = await RawFtp.connect({ host: ts.host, port: ts.implicitPort, implicit: true });
      await ftp.expect(220);
      await ftp.cmd('USER bench', 331);
      const t0 = performance.now();
      await ftp.cmd('PASS pw', 230);
      if (i > 0) times.push(performance.now() - t0); // the first one pays scrypt
      await ftp.cmd('QUIT', 221);
      await ftp.close();
    }
  } finally {
    await ts.close();
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  console.log(`${label.padEnd(34)} PASS→230 median ${q(0.5)} ms  p95 ${q(0.95)} ms  (n=${times.length})`);
  return Number(q(0.5));
}

const pg = await TestPostgres.create();
try {
  const file = path.join(dir, 'users.yaml');
  await writeUsersFile(file, [account]);
  const fileStore = await UsersFileStore.open(file);
  const a = await measure('users file', fileStore);
  fileStore.close();
  const shared = await openServingState(pg.url, {
    debug() {},
    info() {},
    warn() {},
    error() {},
    child() {
      return this;
    },
  });
  await shared.accounts.add(account);
  const b = await measure('PostgreSQL (lookup)', shared.accounts);
  const c = await measure('PostgreSQL (lookup + session lease)', shared.accounts, shared.sessions);
  console.log(
    `ratio PostgreSQL/file: ${(b / a).toFixed(2)} (lookup), ${(c / a).toFixed(2)} (with maxSessions)`,
  );
  await shared.close();
} finally {
  await pg.destroy();
  await rm(dir, { recursive: true, force: true });
}
