/**
 * A login that upgrades a crypt hash to scrypt rewrites the users file, which every worker re-reads:
 * the user's sessions on the OTHER worker must not take it for a changed account (nothing the admin
 * did changed), while an admin's new password (`ferry users set --password-hash`) is one. That
 * needs `passwordSet` only over a crypt hash: written then, or where it is already, never else (an
 * older Ferry refuses an account that has it).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryUsers, ServeProcess, type LogLine } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

const PW = 'pässwörd 123!';
const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'; // openssl passwd -apr1 -salt s4ltS4lt

let dir: string;
let data: string;
let server: ServeProcess | undefined;
const held: RawFtp[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-rehash-'));
  data = path.join(dir, 'data');
  await mkdir(path.join(dir, 'ann'));
});
after(async () => {
  for (const ftp of held) await ftp.close().catch(() => {});
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function users(args: string[], input?: string): Promise<void> {
  const r = await ferryUsers(data, args, input);
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
}

/** A session of ann, held; the worker that serves it, from its login line (logged after `from`). */
async function login(s: ServeProcess, from: number): Promise<number> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: s.implicitPort, implicit: true });
  held.push(ftp);
  await ftp.expect(220);
  await ftp.login('ann', PW);
  const line = await s.waitForLog(
    (l) => l.msg === 'login' && l.user === 'ann' && isAfter(s, l, from),
    'login',
  );
  return line.worker as number;
}

const isAfter = (s: ServeProcess, l: LogLine, from: number): boolean => s.log.indexOf(l) >= from;

/** `passwordSet` of `name` as `ferry users show --json` gives it. */
async function passwordSetOf(name: string): Promise<string | undefined> {
  const r = await ferryUsers(data, ['show', name, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { passwordSet?: string }).passwordSet;
}

test('passwd and set --password-hash write passwordSet over a crypt hash, or where it is, only', async () => {
  const home = path.join(dir, 'ann');
  await users(['add', 'dan', '--home', home, '--password-stdin'], 'dan-1\n');
  await users(['passwd', 'dan', '--password-stdin'], 'dan-2\n');
  assert.equal(await passwordSetOf('dan'), undefined, 'scrypt → scrypt (passwd)');
  await users(['set', 'dan', '--password-hash', await testHash('dan-3')]);
  assert.equal(await passwordSetOf('dan'), undefined, 'scrypt → scrypt (set --password-hash)');
  await users(['set', 'dan', '--password-hash', APR1]);
  assert.equal(await passwordSetOf('dan'), undefined, 'scrypt → crypt');
  await users(['passwd', 'dan', '--password-stdin'], 'dan-4\n');
  const first = await passwordSetOf('dan');
  assert.ok(first !== undefined, 'crypt → scrypt');
  await users(['passwd', 'dan', '--password-stdin'], 'dan-5\n');
  const second = await passwordSetOf('dan');
  assert.ok(second !== undefined && second > first, 'kept current once written');
  await users(['rm', 'dan']);
});

test('--workers 2: a hash upgrade by a login on one worker is not told to the sessions on the other; an admin password change is', async () => {
  await users(['add', 'ann', '--home', path.join(dir, 'ann'), '--password-hash', APR1]);
  const s = await ServeProcess.start(['--workers', '2', '--data-dir', data, '--root', dir], dir);
  server = s;
  const follows = (worker: number, from: number): number =>
    s.log.slice(from).filter((l) => l.msg === 'session follows the changed account' && l.worker === worker)
      .length;
  const upgraded = (from: number, what: string): Promise<LogLine> =>
    s.waitForLog(
      (l) => l.msg === 'migrated password hash replaced by a scrypt one' && isAfter(s, l, from),
      what,
    );

  // A: ann on one worker; its login upgrades the hash there.
  let from = s.log.length;
  const a = await login(s, from);
  await upgraded(from, "A's upgrade");

  // The admin gives the crypt hash again: a new password, which A hears of.
  from = s.log.length;
  await users(['set', 'ann', '--password-hash', APR1]);
  await s.waitForLog(() => follows(a, from) === 1, 'A following the admin change');

  // B: ann again, while A is held, goes to the other worker; its login upgrades the hash there.
  from = s.log.length;
  const b = await login(s, from);
  assert.notEqual(b, a, 'the second session is on the other worker');
  await upgraded(from, "B's upgrade");
  await s.waitForLog(
    (l) => l.msg === 'users file reloaded' && l.worker === a && isAfter(s, l, from),
    "A's worker re-reading the upgraded file",
  );
  // A change the admin makes now reaches A: it follows that, and only that. (A's worker logs a
  // follow of the upgrade, if any, right after that re-read: before it reads the next change.)
  const meanwhile = s.log.length;
  await users(['set', 'ann', '--perm', '/x=list']);
  await s.waitForLog(
    () => follows(a, meanwhile) >= 1 && follows(b, meanwhile) >= 1,
    'both following the admin change',
  );
  assert.equal(follows(a, from), 1, 'A followed the admin change, not the upgrade made on the other worker');
  assert.equal(follows(b, from), 1);
});
