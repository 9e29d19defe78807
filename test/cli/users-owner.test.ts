/**
 * `sudo ferry users|bans …` next to a server running as its runAs user: what root writes into the
 * data directory stays that user's (the file replaced keeps its owner; a new one takes its
 * directory's), so that the server can still read it: a removed user is refused at once, a quota
 * user can upload. Root only (the tests run as root in CI).
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { unprivilegedAccount } from '../support/accounts.js';
import { ferryUsers, runFerry, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { secureLogin, upload } from '../support/ftps-session.js';

const isRoot = process.getuid?.() === 0;
const OTHER = { uid: 65534, gid: 65534 };

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-owner-'));
  await chmod(dir, 0o755); // the run-as user must reach its data dir and what it serves
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function ownerOf(file: string): Promise<[number, number]> {
  const st = await stat(file);
  return [st.uid, st.gid];
}

async function usersOk(data: string, args: string[], input?: string): Promise<void> {
  const r = await ferryUsers(data, args, input);
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
}

test(
  "as root, ferry users and ferry bans keep the data dir owner's files (and new ones) that owner's",
  { skip: !isRoot },
  async () => {
    const data = path.join(dir, 'data-cli');
    await mkdir(data, { mode: 0o700 });
    await chown(data, OTHER.uid, OTHER.gid);
    const home = path.join(dir, 'home-cli');
    await mkdir(home);
    const users = path.join(data, 'users.yaml');
    const usage = path.join(data, 'usage.json');

    await usersOk(data, ['add', 'ann', '--home', home, '--password-stdin'], 'pw\n');
    assert.deepEqual(await ownerOf(users), [OTHER.uid, OTHER.gid], 'a new users file: its directory’s owner');
    assert.equal((await stat(users)).mode & 0o777, 0o600);
    await usersOk(data, ['set', 'ann', '--quota-size', '1M']); // writes usage.json (a new file)
    assert.deepEqual(await ownerOf(usage), [OTHER.uid, OTHER.gid], 'a new usage file');
    for (const args of [
      ['passwd', 'ann', '--password-stdin'],
      ['set', 'ann', '--max-sessions', '2'],
    ]) {
      await usersOk(data, args, 'pw2\n');
      assert.deepEqual(await ownerOf(users), [OTHER.uid, OTHER.gid], `after users ${args.join(' ')}`);
    }
    await usersOk(data, ['rm', 'ann']);
    assert.deepEqual(await ownerOf(users), [OTHER.uid, OTHER.gid], 'after users rm');
    assert.deepEqual(await ownerOf(usage), [OTHER.uid, OTHER.gid], 'usage after users rm');

    // A replaced file keeps its own owner, even in a directory of another (root's here).
    const mixed = path.join(dir, 'data-mixed');
    await mkdir(mixed);
    await writeFile(path.join(mixed, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    await chown(path.join(mixed, 'users.yaml'), OTHER.uid, 0);
    await usersOk(mixed, ['add', 'bob', '--home', home, '--password-stdin'], 'pw\n');
    assert.deepEqual(await ownerOf(path.join(mixed, 'users.yaml')), [OTHER.uid, 0]);

    // A data dir that does not exist yet under a directory of the other user: created as theirs.
    const theirs = path.join(dir, 'theirs');
    await mkdir(theirs);
    await chown(theirs, OTHER.uid, OTHER.gid);
    const deep = path.join(theirs, 'a', 'b');
    await usersOk(deep, ['add', 'cy', '--home', home, '--password-stdin'], 'pw\n');
    for (const p of [path.join(theirs, 'a'), deep, path.join(deep, 'users.yaml')])
      assert.deepEqual(await ownerOf(p), [OTHER.uid, OTHER.gid], p);

    // `ferry bans rm` with no server running edits bans.json.
    const bans = path.join(data, 'bans.json');
    const now = Date.now();
    await writeFile(
      bans,
      JSON.stringify({
        active: [{ address: '192.0.2.7', since: now, until: now + 3_600_000, bans: 1 }],
        past: [],
      }),
      { mode: 0o600 },
    );
    await chown(bans, OTHER.uid, OTHER.gid);
    const r = await runFerry(['bans', 'rm', '192.0.2.7', '--data-dir', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await ownerOf(bans), [OTHER.uid, OTHER.gid], 'bans.json after bans rm');
  },
);

test(
  'ferry serve --run-as: root’s ferry users add, set --quota-size and rm take effect at once',
  { skip: !isRoot, timeout: 120_000 },
  async () => {
    const account = await unprivilegedAccount();
    const USER = account?.name ?? 'nobody';
    const user = account ?? OTHER;
    const root = path.join(dir, 'root');
    const home = path.join(dir, 'home-ann');
    for (const d of [root, home]) {
      await mkdir(d);
      await chown(d, user.uid, user.gid);
    }
    const data = path.join(dir, 'data-serve');
    const server = await ServeProcess.start(
      [
        ...['--run-as', USER, '--workers', '1', '--root', root, '--user', 'alice:secret'],
        ...['--data-dir', data],
      ],
      dir,
    );
    /** `ferry users …` as root; resolves once the server has tried to re-read the users file. */
    const change = async (args: string[], input?: string): Promise<void> => {
      const from = server.log.length;
      await usersOk(data, args, input);
      await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && /users file (not )?reloaded/.test(String(l.msg)),
        `the server re-reading after users ${args.join(' ')}`,
      );
    };
    const login = async (name: string, password: string): Promise<{ ftp: RawFtp; code: number }> => {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
      await ftp.expect(220);
      await ftp.cmd(`USER ${name}`, 331);
      return { ftp, code: (await ftp.cmd(`PASS ${password}`)).code };
    };
    try {
      await change(['add', 'ann', '--home', home, '--password-stdin'], 'pw\n');
      const first = await login('ann', 'pw');
      assert.equal(first.code, 230, 'a user added by root logs in');
      await first.ftp.close();

      await change(['set', 'ann', '--quota-size', '1M']);
      const quota = await secureLogin({
        host: '127.0.0.1',
        port: server.implicitPort,
        implicit: true,
        user: 'ann',
        password: 'pw',
      });
      try {
        // Before: 426, the server could not read usage.json (root's, 0600) to count the upload.
        await upload(quota, 'up.txt', Buffer.from('under quota\n'));
      } finally {
        await quota.close();
      }

      await change(['rm', 'ann']);
      const gone = await login('ann', 'pw');
      assert.equal(gone.code, 530, 'a user removed by root is refused at once');
      await gone.ftp.close();
      assert.equal(
        server.log.some((l) => l.msg === 'users file not reloaded: keeping the last good one'),
        false,
        'the server could read every version of the users file',
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);

test(
  "as root, ferry users add --config naming runAs: a new users file (in root's /etc/ferry) is the runAs user's",
  { skip: !isRoot },
  async () => {
    const account = await unprivilegedAccount();
    const user = account ?? assert.fail('no unprivileged account');
    const etc = path.join(dir, 'etc-runas');
    await mkdir(etc, { mode: 0o755 }); // root's, as /etc/ferry
    const home = path.join(dir, 'home-runas');
    await mkdir(home);
    const config = path.join(etc, 'ferry.yaml');
    await writeFile(config, `runAs: ${user.name}\naccounts: { file: users.yaml }\n`);
    const r = await runFerry(
      ['users', 'add', 'ann', '--home', home, '--password-stdin', '--config', config],
      'pw\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const users = path.join(etc, 'users.yaml');
    // Before: root's (its directory's owner), mode 0600: the server, as the runAs user, could not read it.
    assert.deepEqual(await ownerOf(users), [user.uid, user.gid]);
    assert.equal((await stat(users)).mode & 0o777, 0o600);
    assert.equal((await stat(etc)).uid, 0, 'the directory stays root’s');

    // An existing file keeps its owner: runAs is not looked up, so a config naming a user this
    // machine does not have (copied from the server) still lets root edit it.
    await writeFile(config, `runAs: no-such-ferry-user\naccounts: { file: users.yaml }\n`);
    const again = await runFerry(
      ['users', 'add', 'bob', '--home', home, '--password-stdin', '--config', config],
      'pw\n',
    );
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await ownerOf(users), [user.uid, user.gid]);
  },
);
