/**
 * `ferry users` against a running `ferry serve --workers 2` (issue 9): every change reaches every
 * worker without a restart; a disabled or removed user's live sessions get 421 and new logins 530.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import type { Reply } from '../../src/protocol/reply.js';

type Mode = 'explicit' | 'implicit';
const MODES: readonly Mode[] = ['explicit', 'implicit'];
const WORKERS = 2;

let dir: string;
let data: string;
let home: string;
let server: ServeProcess;

const users = (args: string[], input?: string): ReturnType<typeof ferryUsers> =>
  ferryUsers(data, args, input);

/** `ferry users …` that must succeed; resolves once every worker has re-read the users file. */
async function change(args: string[], input?: string): Promise<string> {
  const from = server.log.length;
  const r = await users(args, input);
  const written = Date.now();
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
  const reloads = (): number =>
    server.log.slice(from).filter((l) => l.msg === 'users file reloaded' && l.worker !== undefined).length;
  await server.waitForLog(() => reloads() >= WORKERS, `every worker re-reading after ${args.join(' ')}`);
  picked.push(Date.now() - written);
  return r.stdout;
}
/** How long each change took to reach every worker (ms after the command exited), for the report. */
const picked: number[] = [];

/**
 * USER/PASS on a fresh session from loopback address `from`; resolves with the PASS reply and the
 * session.
 */
async function login(
  mode: Mode,
  user: string,
  password: string,
  from = '127.0.0.1',
): Promise<{ ftp: RawFtp; r: Reply }> {
  const implicit = mode === 'implicit';
  const port = implicit ? server.implicitPort : server.explicitPort;
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port, implicit, localAddress: from });
  await ftp.expect(220);
  if (!implicit) await ftp.authTls('TLS');
  await ftp.cmd(`USER ${user}`, 331);
  return { ftp, r: await ftp.cmd(`PASS ${password}`) };
}

/** A held, logged-in session that has read a file from the user's home. */
async function session(mode: Mode, user: string, password: string): Promise<RawFtp> {
  const { ftp, r } = await login(mode, user, password);
  assert.equal(r.code, 230, `${mode} ${user}: ${textOf(r)}`);
  if (mode === 'explicit') {
    await ftp.cmd('PBSZ 0', 200);
    await ftp.cmd('PROT P', 200);
  }
  await ftp.cmd('TYPE I', 200);
  assert.equal((await ftp.retrieve('hello.txt')).toString(), 'hello bob\n');
  return ftp;
}

async function refused(mode: Mode, user: string, password: string, from?: string): Promise<void> {
  const { ftp, r } = await login(mode, user, password, from);
  await ftp.close();
  assert.equal(r.code, 530, `${mode} ${user}: ${textOf(r)}`);
  assert.equal(textOf(r), 'Login incorrect.');
}

describe('ferry users against a running server', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-cli-'));
    data = path.join(dir, 'data');
    home = path.join(dir, 'bob');
    await mkdir(home);
    await writeFile(path.join(home, 'hello.txt'), 'hello bob\n');
    server = await ServeProcess.start(
      ['--workers', String(WORKERS), '--data-dir', data, '--user', 'admin:admin-pw', '--root', dir],
      dir,
    );
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('add → login on every worker without a restart; set --disabled and rm end live sessions (421), then 530', async (t) => {
    const added = await change(['add', 'bob', '--home', home, '--password-stdin'], 'pw-bob\n');
    assert.match(added, /^added bob to /);
    assert.doesNotMatch(added, /pw-bob/);
    const file = await readFile(path.join(data, 'users.yaml'), 'utf8');
    assert.ok(!file.includes('pw-bob') && /passwordHash: scrypt\$/.test(file));
    assert.equal((await stat(path.join(data, 'users.yaml'))).mode & 0o777, 0o600);

    // Two sessions per mode: with two workers, each worker holds sessions of bob.
    const live = await Promise.all(
      MODES.flatMap((m) => [session(m, 'bob', 'pw-bob'), session(m, 'bob', 'pw-bob')]),
    );
    const from = server.log.length;
    await change(['set', 'bob', '--disabled']);
    for (const ftp of live) {
      assert.equal((await ftp.expect(421)).code, 421);
      await ftp.closed;
    }
    for (const m of MODES) await refused(m, 'bob', 'pw-bob');
    const reason = await server.waitForLog(
      (l) => server.log.indexOf(l) >= from && l.msg === 'login failed' && l.user === 'bob',
      'the refusal of bob',
    );
    assert.equal(reason.reason, 'account disabled');

    await change(['set', 'bob', '--enabled']);
    const again = await Promise.all(MODES.map((m) => session(m, 'bob', 'pw-bob')));
    assert.match(await change(['rm', 'bob']), /^removed bob/);
    for (const ftp of again) {
      assert.equal((await ftp.expect(421)).code, 421);
      await ftp.closed;
    }
    for (const m of MODES) await refused(m, 'bob', 'pw-bob');
    // The config's and --user's logins are untouched by the users file.
    const admin = await login('implicit', 'admin', 'admin-pw');
    await admin.ftp.close();
    assert.equal(admin.r.code, 230);
    t.diagnostic(`changes reached both workers ${picked.join(', ')} ms after the command exited`);
  });

  test('a generated password is printed once; passwd replaces it at once (the login cache forgets the old one)', async () => {
    const out = await change([
      'add',
      'carl',
      '--home',
      home,
      '--perm',
      '/=list,download',
      '--max-sessions',
      '3',
    ]);
    const generated = /password for carl: (\S+)/.exec(out)?.[1];
    assert.ok(generated, out);
    const first = await session('implicit', 'carl', generated);
    await first.close();
    await change(['passwd', 'carl', '--password-stdin'], 'carl-2\n');
    for (const m of MODES) await refused(m, 'carl', generated);
    const ftp = await session('explicit', 'carl', 'carl-2');
    assert.equal(textOf(await ftp.cmd('MKD x', 550)), 'Permission denied: mkdir');
    // Changed permissions reach the running session from its next command.
    await change(['set', 'carl', '--perm', '/=*']);
    await ftp.cmd('MKD x', 257);
    await ftp.cmd('RMD x', 250);
    await ftp.close();
  });

  test('--max-sessions counts the sessions on every worker together', async () => {
    await change(['add', 'fay', '--home', home, '--password-stdin', '--max-sessions', '2'], 'fay-pw\n');
    const from = server.log.length;
    const held = [await session('implicit', 'fay', 'fay-pw'), await session('explicit', 'fay', 'fay-pw')];
    try {
      const logins = () => server.log.slice(from).filter((l) => l.msg === 'login' && l.user === 'fay');
      await server.waitForLog(() => logins().length >= 2, 'the two logins of fay');
      const pids = logins().map((l) => l.pid);
      assert.equal(new Set(pids).size, WORKERS, 'one session on each worker');
      // From 127.0.0.3: a worker logs 5 failed logins a minute per address, and the earlier tests'
      // refusals from 127.0.0.1 (sessions one after another all reach the first worker) used them.
      for (const m of MODES) {
        const { ftp, r } = await login(m, 'fay', 'fay-pw', '127.0.0.3');
        await ftp.close();
        assert.equal(r.code, 421, `${m}: ${textOf(r)}`);
        assert.equal(textOf(r), 'Too many sessions for this user (at most 2), try later.');
      }
      const log = await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && l.msg === 'login refused' && l.user === 'fay',
        'the refusal of fay',
      );
      assert.equal(log.reason, 'too many sessions (maxSessions 2)');
    } finally {
      await Promise.all(held.map((f) => f.close()));
    }
  });

  test('an expiry set while a session runs applies from the next login (the session goes on)', async () => {
    await change(['add', 'erin', '--home', home, '--password-stdin'], 'erin-pw\n');
    const ftp = await session('implicit', 'erin', 'erin-pw');
    try {
      const from = server.log.length;
      await change(['set', 'erin', '--expires', '2020-01-01']);
      await ftp.cmd('NOOP', 200);
      // From 127.0.0.4: see fay's test. The refusal takes a password check: time enough for a
      // session end that the change would have caused.
      await refused('explicit', 'erin', 'erin-pw', '127.0.0.4');
      const reason = await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && l.msg === 'login failed' && l.user === 'erin',
        'the refusal of erin',
      );
      assert.match(String(reason.reason), /^account expired/);
      assert.equal((await ftp.retrieve('hello.txt')).toString(), 'hello bob\n');
      assert.ok(
        !server.log.slice(from).some((l) => /session ended/.test(l.msg ?? '')),
        'no session of erin ended',
      );
      // Disabling still ends it.
      await change(['set', 'erin', '--disabled']);
      assert.equal((await ftp.expect(421)).code, 421);
    } finally {
      await ftp.close();
    }
  });

  test("the README's worked example", async () => {
    const acme = path.join(dir, 'acme');
    for (const d of ['pub', 'incoming', 'private']) await mkdir(path.join(acme, d), { recursive: true });
    await writeFile(path.join(acme, 'pub', 'catalog.pdf'), 'catalog');
    await writeFile(path.join(acme, 'private', 'old.txt'), 'old');
    await change(
      ['add', 'acme', '--home', acme, '--password-stdin']
        .concat(['--perm', '/=list', '--perm', '/pub=list,download', '--perm', '/incoming=list,upload'])
        .concat(['--perm', '/private=*']),
      'acme-pw\n',
    );
    const { ftp, r } = await login('implicit', 'acme', 'acme-pw');
    try {
      assert.equal(r.code, 230);
      await ftp.cmd('TYPE I', 200);
      assert.equal((await ftp.retrieve('/pub/catalog.pdf')).toString(), 'catalog');
      assert.equal(textOf(await ftp.cmd('STOR /pub/x', 553)), 'Permission denied: upload');
      const [opened, done] = await ftp.store('/incoming/order-17.csv', Buffer.from('a,b\n'));
      assert.deepEqual([opened.code, done.code], [150, 226]);
      assert.equal(textOf(await ftp.cmd('STOR /incoming/order-17.csv', 553)), 'Permission denied: overwrite');
      assert.equal(textOf(await ftp.cmd('RETR /incoming/order-17.csv', 550)), 'Permission denied: download');
      assert.equal(textOf(await ftp.cmd('MKD /newdir', 550)), 'Permission denied: mkdir');
      await ftp.cmd('DELE /private/old.txt', 250);
      assert.match(textOf(await ftp.cmd('MLST /incoming', 250)), /perm=elc;/);
    } finally {
      await ftp.close();
    }
  });

  test('--read-only, --hide-dot-files and --deny-file reach the server; "default" and \'\' unset them', async () => {
    const ghome = path.join(dir, 'gail');
    await mkdir(ghome);
    for (const f of ['hello.txt', '.profile', 'setup.exe']) await writeFile(path.join(ghome, f), f);
    await change(
      ['add', 'gail', '--home', ghome, '--password-stdin', '--hide-dot-files', '--deny-file', '*.exe'],
      'gail-pw\n',
    );
    const names = async (ftp: RawFtp): Promise<string[]> =>
      (await ftp.listing('NLST')).split('\r\n').filter(Boolean).sort();
    const { ftp, r } = await login('implicit', 'gail', 'gail-pw');
    try {
      assert.equal(r.code, 230, textOf(r));
      await ftp.cmd('TYPE I', 200);
      assert.deepEqual(await names(ftp), ['hello.txt']);
      assert.equal(textOf(await ftp.cmd('RETR setup.exe', 550)), 'File name not allowed.');
      // Set while the session runs: its next STOR is refused.
      await change(['set', 'gail', '--read-only']);
      assert.equal(textOf(await ftp.cmd('STOR new.txt', 553)), 'Permission denied: upload');
    } finally {
      await ftp.close();
    }
    const shown = (await users(['show', 'gail'])).stdout;
    assert.match(shown, /^permissions {5}\/=list,download$/m);
    assert.match(shown, /^read only {7}yes$/m);
    assert.match(shown, /^hide dot-files {2}yes$/m);
    assert.match(shown, /^deny files {6}\*\.exe {2}\(besides the server's denyFiles\)$/m);

    await change(['set', 'gail', '--no-read-only', '--no-hide-dot-files', '--deny-file', '']);
    const cleared = JSON.parse((await users(['show', 'gail', '--json'])).stdout) as unknown;
    assert.deepEqual(cleared, { name: 'gail', home: ghome, readOnly: false, hideDotFiles: false });
    const again = await login('explicit', 'gail', 'gail-pw');
    try {
      assert.equal(again.r.code, 230, textOf(again.r));
      await again.ftp.cmd('PBSZ 0', 200);
      await again.ftp.cmd('PROT P', 200);
      await again.ftp.cmd('TYPE I', 200);
      assert.deepEqual(await names(again.ftp), ['.profile', 'hello.txt', 'setup.exe']);
      assert.equal((await again.ftp.retrieve('setup.exe')).toString(), 'setup.exe');
      const [opened, done] = await again.ftp.store('new.txt', Buffer.from('new'));
      assert.deepEqual([opened.code, done.code], [150, 226]);
    } finally {
      await again.ftp.close();
    }
    // "default" removes the key (userDefaults and the server's settings apply again).
    await change(['set', 'gail', '--read-only', 'default', '--hide-dot-files', 'default']);
    const unset = JSON.parse((await users(['show', 'gail', '--json'])).stdout) as unknown;
    assert.deepEqual(unset, { name: 'gail', home: ghome });
    const text = (await users(['show', 'gail'])).stdout;
    assert.match(text, /^hide dot-files {2}the server's hideDotFiles$/m);
    assert.match(text, /^deny files {6}the server's denyFiles$/m);
  });

  test('--no-hash turns HASH off for the user (FEAT leaves it out, 502); --hash turns it on; "default" unsets it', async () => {
    const hashing = async (): Promise<{ feat: boolean; code: number }> => {
      const ftp = await session('implicit', 'hank', 'hank-pw');
      try {
        const feat = (await ftp.cmd('FEAT', 211)).lines.some((l) => l.trim().startsWith('HASH '));
        return { feat, code: (await ftp.cmd('HASH hello.txt')).code };
      } finally {
        await ftp.close();
      }
    };
    const json = async (): Promise<unknown> => JSON.parse((await users(['show', 'hank', '--json'])).stdout);
    await change(['add', 'hank', '--home', home, '--password-stdin', '--no-hash'], 'hank-pw\n');
    assert.deepEqual(await json(), { name: 'hank', home, hash: false });
    assert.match(
      (await users(['show', 'hank'])).stdout,
      /^hash {12}off \(HASH refused, left out of FEAT\)$/m,
    );
    assert.deepEqual(await hashing(), { feat: false, code: 502 });
    await change(['set', 'hank', '--hash']);
    assert.deepEqual(await json(), { name: 'hank', home, hash: true });
    assert.deepEqual(await hashing(), { feat: true, code: 213 });
    await change(['set', 'hank', '--no-hash']);
    assert.deepEqual(await hashing(), { feat: false, code: 502 });
    await change(['set', 'hank', '--hash', 'default']);
    assert.deepEqual(await json(), { name: 'hank', home });
    const bad = await users(['set', 'hank', '--hash', 'yes']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hash: takes no value but "default", got "yes"/);
    assert.match((await users(['add', '--help'])).stdout, /--no-hash/);
  });

  test('list, show and their --json never show a hash; bad input names the flag (exit 2)', async () => {
    await change(
      ['add', 'dana', '--home', home, '--password-stdin', '--quota-size', '2G', '--upload-rate', '10MB/s'],
      'x\n',
    );
    const list = await users(['list']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^NAME\s+STATUS\s+HOME\n/);
    assert.match(list.stdout, /dana\s+enabled\s+/);
    const json = JSON.parse((await users(['list', '--json'])).stdout) as { name: string }[];
    assert.ok(json.some((u) => u.name === 'dana'));
    const shown = await users(['show', 'dana', '--json']);
    assert.deepEqual(JSON.parse(shown.stdout), {
      name: 'dana',
      home,
      quotaSize: 2 * 1024 ** 3,
      uploadRate: 10 * 1024 ** 2,
    });
    assert.doesNotMatch(list.stdout + shown.stdout + (await users(['show', 'dana'])).stdout, /scrypt/);
    assert.match((await users(['show', 'dana'])).stdout, /quota size\s+2 GiB; usage not counted yet/);

    const bad: [string[], RegExp][] = [
      [['add', 'eve', '--home', home, '--quota-size', '5Q'], /--quota-size: expected a size/],
      [['add', 'eve', '--home', home, '--perm', '/pub=write'], /--perm: unknown permission "write"/],
      [['add', 'eve', '--home', home, '--allow-from', '10.0.0.0/33'], /--allow-from: expected a network/],
      [['add', 'eve', '--home', home, '--expires', '2027-02-30'], /--expires: expected a date/],
      [['add', 'eve', '--home', path.join(dir, 'nope')], /--home: .* is not a directory/],
      [['set', 'dana', '--read-only', 'yes'], /--read-only: takes no value but "default", got "yes"/],
      [
        ['set', 'dana', '--deny-file', '', '--deny-file', '*.exe'],
        /--deny-file: '' \(clear the list\) goes alone/,
      ],
      [['add', 'dana', '--home', home], /already exists/],
      [['add', 'bad name', '--home', home], /user name "bad name"/],
      [['add', 'eve'], /--home: required for eve, unless --config names a config with storage\.s3/],
      [['set', 'nobody', '--disabled'], /no user "nobody"/],
      [['rm', 'nobody'], /no user "nobody"/],
    ];
    for (const [args, message] of bad) {
      const r = await users(args, '');
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
