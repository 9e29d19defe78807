/**
 * `ferry serve --workers 2`: a `maxSessions` given to a user who had none (`ferry users set`, or
 * `userDefaults.maxSessions` and SIGHUP) counts the sessions already open on every worker, as in
 * one process: the primary counts every user's sessions, not only those of users limited at login.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryOk, implicitSession, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { changeUsers } from '../support/users-cli.js';

const WORKERS = 2;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-new-session-limit-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A server with bob (password pw-bob, no limit) and its config file. */
async function serve(name: string): Promise<{ server: ServeProcess; config: string; data: string }> {
  const data = path.join(dir, name, 'data');
  const home = path.join(dir, name, 'bob');
  await mkdir(data, { recursive: true });
  await mkdir(home);
  const config = path.join(dir, name, 'ferry.yaml');
  await writeFile(config, `dataDir: ${data}\n`);
  await ferryOk(['users', 'add', 'bob', '--home', home, '--password-stdin', '--config', config], 'pw-bob\n');
  const server = await ServeProcess.start(['--workers', String(WORKERS), '--config', config], dir);
  return { server, config, data };
}

/** Two sessions of bob, one on each worker (the least busy takes each). */
async function twoSessions(server: ServeProcess): Promise<RawFtp[]> {
  const from = server.log.length;
  const sessions = [await implicitSession(server, 'bob'), await implicitSession(server, 'bob')];
  const pids = await server.loginPids('bob', from, 2);
  assert.equal(new Set(pids).size, 2, 'one session on each worker');
  return sessions;
}

/** A third login of bob is refused: his two open sessions count against the limit of 1. */
async function thirdRefused(server: ServeProcess): Promise<void> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.cmd('USER bob', 331);
    assert.match(textOf(await ftp.cmd('PASS pw-bob', 421)), /Too many sessions for this user \(at most 1\)/);
  } finally {
    await ftp.close();
  }
}

test(`--workers ${WORKERS}: ferry users set --max-sessions on a user without a limit counts the sessions already open`, async () => {
  const { server, config, data } = await serve('users-set');
  const sessions: RawFtp[] = [];
  try {
    sessions.push(...(await twoSessions(server)));
    await changeUsers(server, WORKERS, data, ['set', 'bob', '--max-sessions', '1', '--config', config]);
    await thirdRefused(server);
    for (const s of sessions) await s.cmd('NOOP', 200);
  } finally {
    for (const s of sessions) await s.close();
    assert.equal(await server.stop(), 0);
  }
});

test(`--workers ${WORKERS}: userDefaults.maxSessions set by a reload (SIGHUP) counts the sessions already open`, async () => {
  const { server, config, data } = await serve('user-defaults');
  const sessions: RawFtp[] = [];
  try {
    sessions.push(...(await twoSessions(server)));
    await writeFile(config, `dataDir: ${data}\nuserDefaults:\n  maxSessions: 1\n`);
    const from = server.log.length;
    server.child.kill('SIGHUP');
    for (let worker = 1; worker <= WORKERS; worker++)
      await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && l.worker === worker && l.msg === 'configuration reloaded',
        `worker ${worker} reloads`,
      );
    await thirdRefused(server);
  } finally {
    for (const s of sessions) await s.close();
    assert.equal(await server.stop(), 0);
  }
});
