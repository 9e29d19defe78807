/**
 * Running as a service (issue 10): root is refused unless asked for; `--run-as` binds as root and
 * then becomes the user (primary and workers), whose uploads are its own; the systemd unit in
 * packaging/ passes `systemd-analyze verify`. scripts/setup-service.sh creates the `ferry-test`
 * user and installs systemd-analyze.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  access,
  chmod,
  chown,
  lchown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { systemAccount, type SystemAccount } from '../support/accounts.js';
import { curlUpload, expectSuccess } from '../support/clients.js';
import { bannerOf, FERRY_MAIN, runFerry, ServeProcess } from '../support/ferry-process.js';
import { testCertificate } from '../support/ferry.js';
import { REPO_ROOT } from '../support/peers.js';
import { RawFtp } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

const run = promisify(execFile);
const USER = 'ferry-test';
const isRoot = process.getuid?.() === 0;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-service-'));
  await chmod(dir, 0o755); // the run-as user must reach what it serves
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function account(name: string): Promise<SystemAccount> {
  return (await systemAccount(name)) ?? assert.fail(`no system account ${name}`);
}

/** As the README installs it: root's, readable by the service user's group only (mode 0640). */
async function privateConfig(file: string, user: SystemAccount): Promise<void> {
  await chown(file, 0, user.gid);
  await chmod(file, 0o640);
}

/** Real, effective, saved and file-system ids from /proc/PID/status. */
async function idsOf(pid: number): Promise<{ uid: number[]; gid: number[] }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const ids = (key: string): number[] =>
    (new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).map(Number);
  return { uid: ids('Uid'), gid: ids('Gid') };
}

test(
  'as root without --run-as or --allow-root, ferry serve refuses to start and says what to do',
  { skip: !isRoot },
  async () => {
    const child = spawn(
      process.execPath,
      [FERRY_MAIN, 'serve', '--listen', '127.0.0.1', '--implicit-port', '0', '--explicit-port', '0'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 2, err);
    assert.match(err, /Refusing to serve as root/);
    assert.match(err, /--run-as USER/);
    assert.match(err, /--allow-root/);
  },
);

test(
  "--run-as: the primary and its workers run as the user after binding; uploads are the user's",
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const root = path.join(dir, 'root');
    await mkdir(root);
    await chown(root, user.uid, user.gid);
    const data = path.join(dir, 'data');
    const r = await ServeProcess.start(
      [
        ...['--run-as', USER, '--workers', '2', '--root', root, '--user', 'alice:secret'],
        ...['--data-dir', data, '--xferlog', path.join(dir, 'xferlog')],
      ],
      dir,
    );
    try {
      assert.match(r.banner, new RegExp(`running as ${USER} \\(uid ${user.uid}, gid ${user.gid}\\)`));
      for (const pid of [r.child.pid ?? 0, ...r.workerPids]) {
        const ids = await idsOf(pid);
        assert.deepEqual(ids.uid, [user.uid, user.uid, user.uid, user.uid], `uids of ${pid}`);
        assert.deepEqual(ids.gid, [user.gid, user.gid, user.gid, user.gid], `gids of ${pid}`);
      }
      const local = path.join(dir, 'up.txt');
      await writeFile(local, 'owned by the run-as user\n');
      const target = {
        host: '127.0.0.1',
        port: r.implicitPort,
        user: 'alice',
        password: 'secret',
        implicit: true,
      };
      expectSuccess(await curlUpload(target, local, '/up.txt'));
      const st = await stat(path.join(root, 'up.txt'));
      assert.deepEqual([st.uid, st.gid], [user.uid, user.gid]);
      // Its data directory (certificate, users file, bans) and transfer log were handed over.
      for (const p of [data, path.join(data, 'self-signed.crt'), path.join(dir, 'xferlog')]) {
        assert.equal((await stat(p)).uid, user.uid, p);
      }
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  '--run-as with a root-only key (0600, as certbot leaves it) and --workers 2: a worker killed after the drop is replaced, and the replacement serves TLS logins',
  { skip: !isRoot },
  async () => {
    const base = path.join(dir, 'root-only-key');
    await mkdir(base);
    const pair = await testCertificate();
    const [cert, key] = [path.join(base, 'c.pem'), path.join(base, 'k.pem')];
    await writeFile(cert, pair.cert, { mode: 0o644 });
    await writeFile(key, pair.key, { mode: 0o600 });
    const r = await ServeProcess.start(
      [
        ...['--run-as', USER, '--workers', '2', '--root', base, '--user', 'alice:secret'],
        ...['--data-dir', path.join(base, 'data'), '--cert', cert, '--key', key],
        ...['--admin-listen', '127.0.0.1:0'],
      ],
      dir,
    );
    const open: RawFtp[] = [];
    try {
      // Its replacement is forked by the primary as the user: ready, or its own exit (EACCES on k.pem).
      const { outcome, from } = await r.killWorker();
      assert.equal(outcome.msg, 'worker ready', JSON.stringify(outcome));
      // Two TLS sessions held at once: one on each worker, the replacement too.
      for (let i = 0; i < 2; i++) {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
        open.push(ftp);
        await ftp.expect(220);
        await ftp.login('alice', 'secret');
      }
      const pids = await r.loginPids('alice', from, 2);
      assert.ok(pids.includes(Number(outcome.workerPid)), `a login on the replacement: ${pids.join(', ')}`);
      const admin = /admin\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(r.banner)?.[1];
      const metrics = await (await fetch(`${admin ?? ''}/metrics`)).text();
      assert.match(metrics, /^ferry_worker_restarts_total 1$/m);
    } finally {
      await Promise.all(open.map((f) => f.close()));
      assert.equal(await r.stop(), 0);
    }
    await assertRootOnlyKey(key, pair.key);
  },
);

/** The key stayed root's (nothing handed it over to the run-as user). */
async function assertRootOnlyKey(file: string, pem: string): Promise<void> {
  const st = await stat(file);
  assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600], file);
  assert.equal(await readFile(file, 'utf8'), pem, file);
}

/** A root-only file the run-as user must never get: its owner and content are checked afterwards. */
async function rootOnly(file: string): Promise<void> {
  await writeFile(file, 'root only\n', { mode: 0o600 });
}

async function assertRootOnly(file: string): Promise<void> {
  const st = await stat(file);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o600], file);
  assert.equal(await readFile(file, 'utf8'), 'root only\n', file);
}

test(
  '--run-as never follows a link (symbolic or hard) the run-as user put in its data directory',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'links-'));
    await chmod(base, 0o755);
    const root = path.join(base, 'root');
    const data = path.join(base, 'data');
    for (const d of [root, data]) {
      await mkdir(d);
      await chown(d, user.uid, user.gid);
    }
    const victims = ['chowned', 'overwritten', 'hard'].map((n) => path.join(base, `${n}.txt`));
    const [chowned, overwritten, hard] = victims as [string, string, string];
    for (const v of victims) await rootOnly(v);
    // What the run-as user can do in a directory of its own (a hard link only where the kernel's
    // protected_hardlinks is off: made as root here).
    await symlink(chowned, path.join(data, 'evil-link'));
    await symlink(overwritten, path.join(data, 'self-signed.key'));
    await symlink(chowned, path.join(data, 'bans.json'));
    await link(hard, path.join(data, 'usage.json'));
    for (const name of ['evil-link', 'self-signed.key', 'bans.json'])
      await lchown(path.join(data, name), user.uid, user.gid);
    const r = await ServeProcess.start(
      ['--run-as', USER, '--workers', '1', '--root', root, '--user', 'alice:secret', '--data-dir', data],
      base,
    );
    try {
      for (const v of victims) await assertRootOnly(v);
      // The generated key replaced the link, and is the user's.
      const key = await lstat(path.join(data, 'self-signed.key'));
      assert.ok(key.isFile());
      assert.equal(key.uid, user.uid);
    } finally {
      assert.equal(await r.stop(), 0);
    }
    for (const v of victims) await assertRootOnly(v);
  },
);

test(
  '--run-as: a transfer log that is a link is refused, and what it points to is left alone',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'xferlog-'));
    await chmod(base, 0o755);
    const logs = path.join(base, 'logs');
    await mkdir(logs);
    await chown(logs, user.uid, user.gid);
    const victim = path.join(base, 'victim.txt');
    await rootOnly(victim);
    const log = path.join(logs, 'xferlog');
    await symlink(victim, log);
    await lchown(log, user.uid, user.gid);
    const r = await runFerry([
      ...['serve', '--run-as', USER, '--workers', '1', '--root', base, '--data-dir', path.join(base, 'd')],
      ...['--listen', '127.0.0.1', '--explicit-port', '0', '--implicit-port', '0', '--xferlog', log],
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /transfer log .*xferlog: it is a symbolic link/);
    await assertRootOnly(victim);
  },
);

test(
  "--run-as with an existing data directory (/etc/ferry): only Ferry's own files are given to the user",
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'etc-'));
    await chmod(base, 0o755);
    const root = path.join(base, 'root');
    await mkdir(root);
    await chown(root, user.uid, user.gid);
    const etc = path.join(base, 'etc-ferry');
    await mkdir(etc, { mode: 0o755 });
    const operator = [path.join(etc, 'ferry.yaml'), path.join(etc, 'tls.key')];
    for (const f of operator) await rootOnly(f);
    const r = await ServeProcess.start(
      ['--run-as', USER, '--workers', '1', '--root', root, '--user', 'alice:secret', '--data-dir', etc],
      base,
    );
    try {
      for (const f of operator) await assertRootOnly(f);
      assert.equal((await stat(etc)).uid, 0, 'the directory stays root');
      for (const f of ['self-signed.crt', 'self-signed.key'])
        assert.equal((await stat(path.join(etc, f))).uid, user.uid, f);
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

const hasUnshare =
  isRoot &&
  (await run('unshare', ['-n', 'true']).then(
    () => true,
    () => false,
  ));

test(
  'as a user with CAP_NET_BIND_SERVICE (the systemd unit), the default ports are 21 and 990; without it 2121 and 9990',
  { skip: !hasUnshare },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'caps-'));
    await chmod(base, 0o755);
    for (const [caps, explicit, implicit] of [
      [['--inh-caps=+net_bind_service', '--ambient-caps=+net_bind_service'], 21, 990],
      [[], 2121, 9990],
    ] as const) {
      const data = await mkdtemp(path.join(base, 'data-'));
      await chown(data, user.uid, user.gid);
      // A network namespace of its own: ports 21 and 990 are free there whatever this machine runs.
      const setpriv = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups', ...caps];
      const serve = [process.execPath, FERRY_MAIN, 'serve', '--listen', '127.0.0.1', '--workers', '1'];
      const args = [...serve, '--root', data, '--data-dir', data, '--user', 'alice:secret'];
      const child = spawn(
        'unshare',
        ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...setpriv, ...args],
        { cwd: base, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      try {
        const banner = await bannerOf(child);
        assert.match(banner, new RegExp(`explicit  ftpes://127\\.0\\.0\\.1:${explicit} `));
        assert.match(banner, new RegExp(`implicit  ftps://127\\.0\\.0\\.1:${implicit}\n`));
      } finally {
        child.kill('SIGTERM');
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      }
    }
  },
);

test(
  '--run-as a user whose home does not exist, without --data-dir: refused, and the home is not created',
  { skip: !isRoot },
  async (t) => {
    const { home } = await account(USER);
    const there = (): Promise<string> =>
      access(home).then(
        () => 'there',
        () => 'absent',
      );
    assert.equal(await there(), 'absent', `${home} (the test needs it absent)`);
    t.after(() => rm(home, { recursive: true, force: true })); // made by a regression: not left behind
    const child = spawn(
      process.execPath,
      [
        ...[FERRY_MAIN, 'serve', '--run-as', USER, '--workers', '1', '--root', dir, '--listen', '127.0.0.1'],
        ...['--explicit-port', '0', '--implicit-port', '0', '--user', 'alice:secret'],
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // Refused before it binds: a banner means it started.
    const refusal = await bannerOf(child).then(
      (banner) => {
        child.kill('SIGKILL');
        return `started: ${banner}`;
      },
      (err: Error) => err.message,
    );
    assert.match(refusal, /^ferry serve exited 2:/);
    assert.match(refusal, new RegExp(`home of ${USER}, ${home}, does not exist.*give --data-dir DIR`));
    assert.equal(await there(), 'absent');
  },
);

test(
  '--run-as warns at start of each file the user cannot read or write later (config, key, users file, data directory)',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'later-'));
    await chmod(base, 0o755);
    const root = path.join(base, 'root');
    await mkdir(root);
    await chown(root, user.uid, user.gid);
    // As an operator may leave them: root's, mode 0600, in root's directories.
    const etc = path.join(base, 'etc');
    const data = path.join(base, 'var-lib');
    for (const d of [etc, data]) await mkdir(d, { mode: 0o755 });
    const pair = await testCertificate();
    const [config, cert, key, users] = ['ferry.yaml', 'cert.pem', 'key.pem', 'users.yaml'].map((f) =>
      path.join(etc, f),
    ) as [string, string, string, string];
    await writeFile(cert, pair.cert, { mode: 0o644 });
    await writeFile(key, pair.key, { mode: 0o600 });
    await writeFile(users, 'users: []\n', { mode: 0o600 });
    await writeFile(
      config,
      [
        `root: ${root}`,
        `dataDir: ${data}`,
        `certificates: [{ cert: ${cert}, key: ${key} }]`,
        `accounts: { file: ${users} }`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const r = await ServeProcess.start(
      ['--config', config, '--run-as', USER, '--workers', '1', '--user', 'alice:secret'],
      base,
    );
    try {
      const warnings = r.banner.split('\n').filter((l) => l.includes('WARNING'));
      const expected = [
        `${USER} cannot read the config file ${config}: every reload (SIGHUP) will fail`,
        `${USER} cannot read ${key}: a reload (SIGHUP, a certificate renewal) keeps serving the certificate loaded now and applies the rest; a renewed certificate is served only after a restart, or once ${USER} can read it (chgrp ${USER} ${key}; chmod 640 ${key})`,
        `${USER} cannot read the users file ${users}: changes to it (ferry users) will not be loaded (owned by root with mode 0600; the server runs as ${USER}: chown ${USER} ${users}, or keep the users file in the data directory`,
        `${USER} cannot write ${data}: bans, quota usage and a generated certificate cannot be saved`,
        `${USER} cannot write ${etc}, the users file's directory: crypt hashes (imported from vsftpd or ProFTPD) will not be upgraded to scrypt at login`,
      ];
      for (const w of expected)
        assert.ok(
          warnings.some((l) => l.includes(w)),
          `${w}\n${r.banner}`,
        );
      assert.equal(warnings.length, expected.length, r.banner); // the certificate (0644) is readable
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  'started as the service user (systemd User=), a users file it cannot read stops it with whose the file is and what to do',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'unreadable-users-'));
    await chmod(base, 0o755);
    const data = path.join(base, 'data');
    await mkdir(data);
    await chown(data, user.uid, user.gid);
    // What `sudo ferry users add` left in root's /etc/ferry before: root's, mode 0600.
    const users = path.join(base, 'users.yaml');
    await writeFile(users, 'users: []\n', { mode: 0o600 });
    const config = path.join(base, 'ferry.yaml');
    await writeFile(config, `dataDir: ${data}\nroot: ${data}\naccounts: { file: users.yaml }\n`);
    const asUser = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups'];
    const serve = [FERRY_MAIN, 'serve', '--config', config, '--workers', '1', '--listen', '127.0.0.1'];
    const failed = await run(asUser[0] ?? 'setpriv', [
      ...asUser.slice(1),
      process.execPath,
      ...serve,
      ...['--explicit-port', '0', '--implicit-port', '0'],
    ]).then(
      () => assert.fail('ferry serve started'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(failed.code, 2, failed.stderr);
    assert.equal(
      failed.stderr,
      `ferry: ${users}: cannot read (EACCES): owned by root with mode 0600; the server runs as ${USER}: chown ${USER} ${users}, or keep the users file in the data directory (the default <dataDir>/users.yaml), which the server writes too.\n`,
    );
  },
);

test(
  'started as the service user (systemd User=), a users file in a directory it cannot write is warned of once at start',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'users-dir-'));
    await chmod(base, 0o755);
    const data = path.join(base, 'data');
    await mkdir(data);
    await chown(data, user.uid, user.gid);
    const etc = path.join(base, 'etc'); // root's, as /etc/ferry (or read-only: ProtectSystem=strict)
    await mkdir(etc, { mode: 0o755 });
    const users = path.join(etc, 'users.yaml');
    await writeFile(users, 'users: []\n', { mode: 0o600 });
    await chown(users, user.uid, user.gid); // readable: only the hash upgrades and ferry users fail
    const config = path.join(base, 'ferry.yaml');
    await writeFile(config, `dataDir: ${data}\nroot: ${data}\naccounts: { file: ${users} }\n`);
    const asUser = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups'];
    const r = await ServeProcess.start(
      ['--config', config, '--workers', '1', '--user', 'alice:secret'],
      base,
      asUser,
    );
    try {
      const warnings = r.banner.split('\n').filter((l) => l.includes('WARNING'));
      const expected = `${USER} cannot write ${etc}, the users file's directory: crypt hashes (imported from vsftpd or ProFTPD) will not be upgraded to scrypt at login, and ferry users run as ${USER} will fail (a lock file, a temp file and a rename there): make it ${USER}'s, or keep the users file in the data directory`;
      assert.deepEqual(warnings, [`  WARNING   ${expected}`], r.banner);
      await r.waitForLog((l) => l.level === 40 && l.msg === expected, 'the warning logged');
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  '--run-as warns of each home and folder the user cannot read, or write where its account may, at start and when the users file adds one',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'homes-'));
    await chmod(base, 0o755);
    // Root's, as a migration from vsftpd (whose logins were root-made system users) leaves them.
    const made = async (name: string, mode: number, owner = 0): Promise<string> => {
      const d = path.join(base, name);
      await mkdir(d);
      await chmod(d, mode);
      await chown(d, owner, owner === 0 ? 0 : user.gid);
      return d;
    };
    const [closed, rootOwned, readable, own, team, drop, later] = await Promise.all([
      made('closed', 0o700),
      made('root-owned', 0o755),
      made('readable', 0o755),
      made('own', 0o755, user.uid),
      made('team', 0o755),
      made('drop', 0o755),
      made('later', 0o700),
    ]);
    const data = await made('data', 0o755, user.uid);
    const config = path.join(base, 'ferry.yaml');
    await writeFile(
      config,
      [
        `dataDir: ${data}`,
        'users:',
        `  - name: carl`,
        `    passwordHash: "${await testHash('pw')}"`,
        `    home: ${own}`,
        `    folders: { /team: ${team}, /drop: ${drop} }`,
        `    permissions: { /team: "list,download" }`,
      ].join('\n') + '\n',
    );
    await privateConfig(config, user); // it holds a password hash: else a warning of its own
    const add = async (name: string, home: string, ...more: string[]): Promise<void> => {
      const r = await runFerry(['users', 'add', name, '--home', home, '--config', config, ...more]);
      assert.equal(r.code, 0, r.stderr);
    };
    await add('dan', closed);
    await add('erin', rootOwned);
    await add('rita', readable, '--perm', '/=list,download'); // reads only: no write needed
    const r = await ServeProcess.start(['--config', config, '--run-as', USER, '--workers', '1'], base);
    try {
      const warnings = r.banner.split('\n').filter((l) => l.includes('WARNING'));
      const expected = [
        `${USER} cannot read ${closed}, the home of dan: listings and downloads there will fail`,
        `${USER} cannot write ${rootOwned}, the home of erin: uploads and changes there will fail`,
        `${USER} cannot write ${drop}, the folder /drop of carl: uploads and changes there will fail`,
      ];
      for (const w of expected)
        assert.ok(
          warnings.some((l) => l.includes(w)),
          `${w}\n${r.banner}`,
        );
      // carl's own home and read-only /team, and rita's home, are fine.
      assert.equal(warnings.length, expected.length, r.banner);
      for (const w of expected) await r.waitForLog((l) => l.level === 40 && l.msg === w, w);
      // A user added while it runs is checked too.
      await add('frank', later);
      const seen = await r.waitForLog(
        (l) => typeof l.msg === 'string' && l.msg.includes(later),
        "the warning about frank's home",
      );
      assert.equal(
        seen.msg,
        `${USER} cannot read ${later}, the home of frank: listings and downloads there will fail`,
      );
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  '--run-as: an anonymous area read-only but for its upload directories is warned of only where it may write',
  { skip: !isRoot },
  async () => {
    const user = await account(USER);
    const base = await mkdtemp(path.join(dir, 'anon-'));
    await chmod(base, 0o755);
    const data = path.join(base, 'data');
    const pub = path.join(base, 'pub'); // root's, 0755: anonymous only reads here
    for (const d of [data, pub]) await mkdir(d, { mode: 0o755 });
    await chown(data, user.uid, user.gid);
    const incoming = path.join(pub, 'incoming');
    const uploads = path.join(pub, 'uploads');
    for (const d of [incoming, uploads]) await mkdir(d, { mode: 0o755 });
    await chown(incoming, user.uid, user.gid); // writable by the server's user; uploads/ is not
    const config = path.join(base, 'ferry.yaml');
    await writeFile(
      config,
      [
        `dataDir: ${data}`,
        'anonymous:',
        `  home: ${pub}`,
        '  readOnly: true',
        '  permissions: { /incoming: upload, /uploads: "list,upload" }',
      ].join('\n') + '\n',
    );
    const r = await ServeProcess.start(['--config', config, '--run-as', USER, '--workers', '1'], base);
    try {
      const warnings = r.banner.split('\n').filter((l) => l.includes('WARNING'));
      // Before: "cannot write …/pub, the home of anonymous", where it may not write anyway.
      assert.deepEqual(
        warnings,
        [
          `  WARNING   ${USER} cannot write ${uploads}, in the home of anonymous: uploads and changes there will fail`,
        ],
        r.banner,
      );
    } finally {
      assert.equal(await r.stop(), 0);
    }
  },
);

test(
  '--run-as with many homes it cannot use: each distinct directory checked once, ten warnings and a line counting the rest',
  { skip: !isRoot },
  async () => {
    const base = await mkdtemp(path.join(dir, 'many-'));
    await chmod(base, 0o755);
    const user = await account(USER);
    const data = path.join(base, 'data');
    await mkdir(data);
    await chown(data, user.uid, user.gid);
    const hash = await testHash('pw');
    const lines = [`dataDir: ${data}`, 'users:'];
    for (let i = 0; i < 14; i++) {
      const home = path.join(base, `home${i}`);
      await mkdir(home, { mode: 0o700 });
      // Two users to a home: 14 users, 7 directories with a problem.
      lines.push(`  - { name: u${i}, passwordHash: "${hash}", home: ${path.join(base, `home${i >> 1}`)} }`);
    }
    const config = path.join(base, 'ferry.yaml');
    await writeFile(config, lines.join('\n') + '\n');
    await privateConfig(config, user); // it holds password hashes: else a warning of its own
    const few = await ServeProcess.start(['--config', config, '--run-as', USER, '--workers', '1'], base);
    try {
      const warnings = few.banner.split('\n').filter((l) => l.includes('WARNING'));
      assert.equal(warnings.length, 7, few.banner);
      assert.match(warnings[0] ?? '', /cannot read \S+home0, the home of u0 and 1 more: /);
    } finally {
      assert.equal(await few.stop(), 0);
    }
    for (let i = 0; i < 14; i++)
      lines.push(`  - { name: v${i}, passwordHash: "${hash}", home: ${path.join(base, `home${i}`)} }`);
    await writeFile(config, lines.join('\n') + '\n');
    const many = await ServeProcess.start(['--config', config, '--run-as', USER, '--workers', '1'], base);
    try {
      const warnings = many.banner.split('\n').filter((l) => l.includes('WARNING'));
      assert.equal(warnings.length, 11, many.banner);
      assert.match(
        warnings[10] ?? '',
        new RegExp(`and 4 more homes or folders ${USER} cannot use \\(14 in all\\)`),
      );
    } finally {
      assert.equal(await many.stop(), 0);
    }
  },
);

test('packaging/ferry.service passes systemd-analyze verify and has what the README promises', async () => {
  const unit = path.join(REPO_ROOT, 'packaging', 'ferry.service');
  const text = await readFile(unit, 'utf8');
  for (const line of [
    /^User=ferry$/m,
    /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m,
    /^ProtectSystem=strict$/m,
    /^ReadWritePaths=\S+/m,
    /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m,
    /^Restart=on-failure$/m,
    // A node started while its database is down comes up once it is back (README, Several nodes).
    /^StartLimitIntervalSec=0$/m,
    // …but a configuration error (exit 2) is not retried every 2 s for ever.
    /^RestartPreventExitStatus=2$/m,
    // The workers (--workers) get SIGTERM from the primary, not each from systemd (then replaced).
    /^KillMode=mixed$/m,
    // The primary's thread pool: libuv reads it before any of Ferry's code runs (README, Thread pool).
    /^Environment=UV_THREADPOOL_SIZE=16$/m,
    // An audit's hardening: Ferry's own files private to its group, the cheap sandboxing.
    /^UMask=0027$/m,
    /^SystemCallArchitectures=native$/m,
    /^ProtectClock=yes$/m,
    /^ProtectKernelLogs=yes$/m,
    /^ProtectHostname=yes$/m,
    /^RestrictRealtime=yes$/m,
    /^ProtectProc=invisible$/m,
  ]) {
    assert.match(text, line);
  }
  // verify checks that ExecStart's program exists: where node lives elsewhere, check a copy naming it.
  const checked = path.join(dir, 'unit', 'ferry.service');
  await mkdir(path.dirname(checked), { recursive: true });
  const node = await access('/usr/bin/node').then(
    () => '/usr/bin/node',
    () => process.execPath,
  );
  await writeFile(checked, text.replace('ExecStart=/usr/bin/node', `ExecStart=${node}`));
  const verify = async (file: string): Promise<{ code: number; out: string }> => {
    try {
      const { stdout, stderr } = await run('systemd-analyze', ['verify', file], { cwd: dir });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  };
  // Warnings (unknown keys, bad values) are failures too: verify prints nothing for a clean unit.
  assert.deepEqual(await verify(checked), { code: 0, out: '' });
  // The check can fail: a unit with a typo is reported.
  await writeFile(checked, text.replace('Restart=on-failure', 'Restart=sometimes'));
  assert.match((await verify(checked)).out, /restart specifier/);
});
