/**
 * A virtual folder shared by several accounts counts in full for each of them: an upload, a delete
 * or a rename that replaces a file there, by any of them (one without a quota too), changes every
 * sharer's usage as `ferry users rescan` would count it, and the next quota decision of each holds
 * against it. With usage.json under `ferry serve --workers 2`, and with PostgreSQL under two nodes
 * (the sharers' sessions on different nodes).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferryOk, ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { TestPostgres } from '../support/postgres.js';
import { RawFtp } from '../support/raw-ftp.js';
import { storeCode } from '../support/ftps-session.js';
import { changeUsers } from '../support/users-cli.js';

const WORKERS = 2;

/** How a test reaches the accounts and servers. */
interface Setup {
  /** `ferry users ARGS` that must succeed, followed by every server process. */
  users(args: string[], input?: string): Promise<string>;
  /** The server serving `name`'s sessions. */
  serverOf(name: string): { host: string; port: number };
  /** Where the homes are made, and the shared folder. */
  homes: string;
  team: string;
}

let dir: string;

async function addSharer(s: Setup, name: string, quota: string[]): Promise<void> {
  const home = path.join(s.homes, name);
  await mkdir(home);
  await writeFile(path.join(home, 'own'), Buffer.alloc(100));
  await s.users(
    ['add', name, '--home', home, '--folder', `/team=${s.team}`, ...quota, '--password-stdin'],
    'pw\n',
  );
}

async function session(s: Setup, name: string): Promise<RawFtp> {
  const { host, port } = s.serverOf(name);
  const ftp = await RawFtp.connect({ host, port, implicit: true });
  await ftp.expect(220);
  await ftp.login(name, 'pw');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

/** ann and bob (quota 2000 B, 10 files) and cid (no quota) share /team; each home holds 100 B. */
async function sharedFolder(s: Setup): Promise<void> {
  for (const name of ['ann', 'bob'])
    await addSharer(s, name, ['--quota-size', '2000', '--quota-files', '10']);
  await addSharer(s, 'cid', []); // no quota: his changes count for the others all the same
  const usageOf = async (name: string): Promise<unknown> =>
    (JSON.parse(await s.users(['show', name, '--json'])) as { usage?: unknown }).usage;
  const both = async (bytes: number, files: number, after: string): Promise<void> => {
    for (const name of ['ann', 'bob'])
      assert.deepEqual(await usageOf(name), { bytes, files }, `${name}'s usage after ${after}`);
  };
  for (const name of ['ann', 'bob']) await s.users(['rescan', name]);
  await both(100, 1, 'a rescan');
  const [ann, bob, cid] = [await session(s, 'ann'), await session(s, 'bob'), await session(s, 'cid')];
  try {
    assert.equal(await storeCode(ann, '/team/big', 600), 226);
    await both(700, 2, "ann's upload to /team");
    await bob.cmd('DELE /team/big', 250);
    await both(100, 1, "bob's delete in /team");

    assert.equal(await storeCode(cid, '/team/x', 300), 226);
    await both(400, 2, 'an upload to /team by an account without a quota');
    assert.equal(await storeCode(ann, '/team/y', 200), 226);
    await both(600, 3, "ann's second upload");
    // A rename inside the folder that replaces a file frees it for all; out of the folder, refused.
    await bob.cmd('RNFR /team/x', 350);
    await bob.cmd('RNTO /team/y', 250);
    await both(400, 2, "bob's rename over /team/y");
    await bob.cmd('RNFR /team/y', 350);
    await bob.cmd('RNTO /moved', 553);

    // bob's next quota decision holds against ann's upload to the folder (1900 of 2000 B).
    assert.equal(await storeCode(ann, '/team/z', 1500), 226);
    await both(1900, 3, "ann's third upload");
    assert.equal(await storeCode(bob, '/mine', 200), 552);
    assert.equal(await storeCode(bob, '/mine', 100), 226);
  } finally {
    await Promise.all([ann.close(), bob.close(), cid.close()]);
  }
  // What was recorded is what a count finds.
  assert.deepEqual(await usageOf('ann'), { bytes: 1900, files: 3 });
  assert.deepEqual(await usageOf('bob'), { bytes: 2000, files: 4 });
  for (const name of ['ann', 'bob']) await s.users(['rescan', name]);
  assert.deepEqual(await usageOf('ann'), { bytes: 1900, files: 3 });
  assert.deepEqual(await usageOf('bob'), { bytes: 2000, files: 4 });
}

describe('a folder shared by several accounts', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-shared-folder-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('usage.json, ferry serve --workers 2', async () => {
    const data = path.join(dir, 'data');
    const team = path.join(dir, 'team');
    await mkdir(team);
    const server = await ServeProcess.start(
      ['--workers', String(WORKERS), '--data-dir', data, '--user', 'admin:admin-pw', '--root', dir],
      dir,
    );
    try {
      await sharedFolder({
        users: async (args, input) =>
          ['add', 'set', 'rm'].includes(args[0] ?? '')
            ? changeUsers(server, WORKERS, data, args, input)
            : expectOk(await ferryUsers(data, args, input), args),
        serverOf: () => ({ host: '127.0.0.1', port: server.implicitPort }),
        homes: dir,
        team,
      });
    } finally {
      await server.stop();
    }
  });

  test('PostgreSQL, two nodes: ann on one, bob and cid on the other', async () => {
    const pgc = await TestPostgres.create();
    const at = path.join(dir, 'pg');
    const team = path.join(at, 'team');
    await mkdir(team, { recursive: true });
    const configFor = async (name: string): Promise<string> => {
      const file = path.join(at, `${name}.yaml`);
      await writeFile(file, `dataDir: ${at}/data-${name}\naccounts:\n  postgres: "${pgc.url}"\n`);
      return file;
    };
    const config = await configFor('a');
    const start = async (name: string, host: string): Promise<ServeProcess> =>
      ServeProcess.start(['--config', await configFor(name), '--workers', '1', '--listen', host], at);
    const [a, b] = await ServeProcess.all([start('a', '127.0.0.2'), start('b', '127.0.0.3')]);
    try {
      await sharedFolder({
        users: (args, input) => ferryOk(['users', ...args, '--config', config], input),
        serverOf: (name) =>
          name === 'ann'
            ? { host: '127.0.0.2', port: a.implicitPort }
            : { host: '127.0.0.3', port: b.implicitPort },
        homes: at,
        team,
      });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await pgc.destroy();
    }
  });
});

function expectOk(r: { code: number | null; stdout: string; stderr: string }, args: string[]): string {
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
