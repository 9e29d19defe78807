/**
 * SIGHUP re-reads the whole configuration of a running `ferry serve --workers 2` (issue 10,
 * "Change without a restart"): a user, a limit and the passive address change while a session
 * runs, which keeps working; a setting that needs a restart is named in a warning; a config that no
 * longer validates is rejected and the running one kept.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { crlOf, issuedBy, testCa } from '../support/client-certs.js';
import { curlDownload, expectSuccess } from '../support/clients.js';
import { ferryOk, ServeProcess, type LogLine } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-reload-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'file.txt'), 'hello\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configText(o: {
  users: [string, string][];
  perAddress: number;
  pasv: string;
  extra?: string;
}): Promise<string> {
  const users = await Promise.all(
    o.users.map(
      async ([name, pw]) => `  - name: ${name}\n    passwordHash: ${await testHash(pw)}\n    home: ${root}\n`,
    ),
  );
  return `users:\n${users.join('')}maxSessionsPerAddress: ${o.perAddress}\npassiveAddress: ${o.pasv}\n${o.extra ?? ''}`;
}

/**
 * Connected over implicit FTPS from `from` and logged in as `user`. Each check below connects from
 * an address of its own: the per-address limit counts a closed session until the primary hears of
 * it, so reusing an address would race with that.
 */
async function login(r: ServeProcess, user: string, password: string, from = '127.0.0.1'): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: '127.0.0.1',
    port: r.implicitPort,
    implicit: true,
    localAddress: from,
  });
  await ftp.expect(220);
  await ftp.login(user, password);
  return ftp;
}

async function loginRefused(r: ServeProcess, user: string, password: string, from: string): Promise<string> {
  const ftp = await RawFtp.connect({
    host: '127.0.0.1',
    port: r.implicitPort,
    implicit: true,
    localAddress: from,
  });
  try {
    await ftp.expect(220);
    await ftp.cmd(`USER ${user}`, 331);
    return textOf(await ftp.cmd(`PASS ${password}`, 530));
  } finally {
    await ftp.close();
  }
}

/** Waits for the next reload's outcome line logged by the primary (no worker key). */
function reloaded(r: ServeProcess, from: number, msg: RegExp): Promise<LogLine> {
  return r.waitForLog(
    (l) => r.log.indexOf(l) >= from && l.worker === undefined && msg.test(l.msg ?? ''),
    `primary: ${msg}`,
  );
}

test('SIGHUP: new users, limits and passive address apply while a session runs; a bad file is refused', async () => {
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    await configText({ users: [['alice', 'old-pw']], perAddress: 10, pasv: '127.0.0.1' }),
  );
  const r = await ServeProcess.start(
    ['--config', config, '--workers', '2', '--data-dir', path.join(dir, 'data')],
    dir,
  );
  const open: RawFtp[] = [];
  try {
    const running = await login(r, 'alice', 'old-pw');
    open.push(running);
    await running.cmd('PASV', 227);

    // alice gets a new password, bob arrives, two sessions per address at most, another PASV address.
    await writeFile(
      config,
      await configText({
        users: [
          ['alice', 'new-pw'],
          ['bob', 'bob-pw'],
        ],
        perAddress: 2,
        pasv: '127.0.0.9',
        extra: 'defender:\n  banSeconds: 7200\n',
      }),
    );
    let from = r.log.length;
    r.child.kill('SIGHUP');
    await reloaded(r, from, /^configuration reloaded$/);
    const warning = await reloaded(r, from, /restart is needed/);
    assert.match(String(warning.msg), /defender\.banSeconds/);
    // Once, by the primary: a worker's own would come before its "configuration reloaded".
    for (const worker of [1, 2])
      await r.waitForLog(
        (l) => r.log.indexOf(l) >= from && l.worker === worker && l.msg === 'configuration reloaded',
        `worker ${worker} reloaded`,
      );
    const warnings = r.log.slice(from).filter((l) => /restart is needed/.test(l.msg ?? ''));
    assert.deepEqual(warnings, [warning], 'the restart warning is logged once');

    // The running session goes on, with the new passive address.
    await running.cmd('PWD', 257);
    assert.match(textOf(await running.cmd('PASV', 227)), /\(127,0,0,9,/);
    // New logins use the new users.
    const bob = await login(r, 'bob', 'bob-pw');
    open.push(bob);
    assert.match(textOf(await bob.cmd('PASV', 227)), /\(127,0,0,9,/);
    // The limit: alice's session and bob's are two; a third connection from 127.0.0.1 is refused.
    const third = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true }).catch(
      () => undefined,
    );
    if (third) {
      await third.closed;
      await third.close();
    }
    await r.waitForLog((l) => l.msg === 'connection refused: too many sessions', 'third connection refused');
    assert.match(await loginRefused(r, 'alice', 'old-pw', '127.0.0.2'), /Login incorrect/);
    const alice = await login(r, 'alice', 'new-pw', '127.0.0.3');
    open.push(alice);
    await alice.cmd('NOOP', 200);

    // A file that no longer validates: rejected, logged, and the running configuration stays.
    await writeFile(config, 'maxSessionsPerAddress: -1\n');
    from = r.log.length;
    r.child.kill('SIGHUP');
    const failed = await reloaded(r, from, /configuration reload failed/);
    assert.match(String(failed.err), /maxSessionsPerAddress/);
    await running.cmd('NOOP', 200);
    // A certificate that cannot be read: refused as a whole too (the primary checks before any worker).
    await writeFile(
      config,
      (await configText({ users: [['carol', 'carol-pw']], perAddress: 10, pasv: '127.0.0.7' })) +
        `certificates:\n  - { cert: ${path.join(dir, 'missing.crt')}, key: ${path.join(dir, 'missing.key')} }\n`,
    );
    from = r.log.length;
    r.child.kill('SIGHUP');
    await reloaded(r, from, /configuration reload failed/);
    assert.match(await loginRefused(r, 'carol', 'carol-pw', '127.0.0.4'), /Login incorrect/);
    const again = await login(r, 'bob', 'bob-pw', '127.0.0.5');
    open.push(again);
    assert.match(textOf(await again.cmd('PASV', 227)), /\(127,0,0,9,/);
  } finally {
    await Promise.all(open.map((f) => f.close()));
    assert.equal(await r.stop(), 0);
  }
});

/** Connects from `from` to the explicit port, sends a PROXY header at once; what came back until close (or the greeting). */
async function proxiedGreeting(r: ServeProcess, from: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port: r.explicitPort, localAddress: from });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`PROXY TCP4 192.0.2.7 127.0.0.1 40000 ${r.explicitPort}\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    if (Buffer.concat(chunks).includes('\r\n')) socket.end();
  });
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

test('SIGHUP: a proxy taken off proxyProtocol.trusted speaks for no client from then on', async () => {
  const config = path.join(dir, 'proxy.yaml');
  const trusted = (network: string): Promise<string> =>
    configText({
      users: [['alice', 'pw']],
      perAddress: 10,
      pasv: '127.0.0.1',
      extra: `proxyProtocol:\n  trusted: [${network}]\n  required: false\n`,
    });
  await writeFile(config, await trusted('127.0.0.10/32'));
  const r = await ServeProcess.start(
    ['--config', config, '--workers', '2', '--data-dir', path.join(dir, 'data-proxy')],
    dir,
  );
  try {
    assert.match(await proxiedGreeting(r, '127.0.0.10'), /^220 /);
    await r.waitForLog((l) => l.msg === 'connect' && l.remote === '192.0.2.7', 'the header names the client');
    await writeFile(config, await trusted('127.0.0.11/32'));
    const from = r.log.length;
    r.child.kill('SIGHUP');
    await reloaded(r, from, /^configuration reloaded$/);
    // Now an untrusted peer: its header is refused, it speaks for nobody.
    await proxiedGreeting(r, '127.0.0.10');
    await r.waitForLog(
      (l) => r.log.indexOf(l) >= from && /not a trusted proxy/.test(l.msg ?? ''),
      'the header from 127.0.0.10 refused',
    );
    assert.ok(!r.log.slice(from).some((l) => l.remote === '192.0.2.7'), 'no session for the named client');
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

/** USER carol over implicit FTPS from `from`, presenting `cert`: the reply's code (232: logged in by it). */
async function userReply(
  r: ServeProcess,
  cert: { cert: string; key: string },
  from: string,
): Promise<number> {
  const ftp = await RawFtp.connect({
    host: '127.0.0.1',
    port: r.implicitPort,
    implicit: true,
    localAddress: from,
    clientCertificate: cert,
  });
  try {
    await ftp.expect(220);
    return (await ftp.cmd('USER carol')).code;
  } finally {
    await ftp.close();
  }
}

/** What the explicit port says first to a connection from `from`: a 220 or 421 greeting. */
async function greeting(r: ServeProcess, from: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port: r.explicitPort, localAddress: from });
  socket.on('error', () => {});
  try {
    const [d] = (await once(socket, 'data')) as [Buffer];
    return d.toString('latin1');
  } finally {
    socket.destroy();
  }
}

for (const workers of [1, 2]) {
  test(`SIGHUP (--workers ${workers}): an address added to defender.allow is let in at once, though banned; taken off, its ban holds again`, async () => {
    const config = path.join(dir, `allow-${workers}.yaml`);
    const allowing = (allow: string): Promise<string> =>
      configText({
        users: [['alice', 'pw']],
        perAddress: 10,
        pasv: '127.0.0.1',
        extra: `defender:\n  threshold: 2\n  banSeconds: 3600\n  allow: [${allow}]\n`,
      });
    const banned = `127.0.0.${40 + workers}`;
    await writeFile(config, await allowing(''));
    const r = await ServeProcess.start(
      [
        '--config',
        config,
        '--workers',
        String(workers),
        '--data-dir',
        path.join(dir, `data-allow-${workers}`),
      ],
      dir,
    );
    const hup = async (): Promise<number> => {
      const from = r.log.length;
      r.child.kill('SIGHUP');
      await reloaded(r, from, /^configuration reloaded$/);
      return from;
    };
    const open: RawFtp[] = [];
    try {
      for (let i = 0; i < 2; i++) await loginRefused(r, 'alice', 'wrong', banned);
      await r.waitForLog((l) => l.msg === 'address banned' && l.remote === banned, 'the ban');
      assert.match(await greeting(r, banned), /^421 .*banned/);

      await writeFile(config, await allowing(`${banned}/32`));
      const from = await hup();
      const restart = r.log.slice(from).find((l) => /restart is needed/.test(l.msg ?? ''));
      assert.equal(restart, undefined, JSON.stringify(restart));
      // Logged in, in every worker (held open, the second session goes to the other one).
      const servedBy = new Set<unknown>();
      let at = from;
      for (let i = 0; i < workers; i++) {
        open.push(await login(r, 'alice', 'pw', banned));
        const line = await r.waitForLog(
          (l) => r.log.indexOf(l) >= at && l.msg === 'login' && l.remote === banned,
          'the login',
        );
        at = r.log.indexOf(line) + 1;
        servedBy.add(line.worker);
      }
      assert.equal(servedBy.size, workers);

      await writeFile(config, await allowing(''));
      await hup();
      assert.match(await greeting(r, banned), /^421 .*banned/);
    } finally {
      await Promise.all(open.map((f) => f.close()));
      assert.equal(await r.stop(), 0);
    }
  });
}

test('SIGHUP: clientCertificates.ca added, kept, and refused when its file is missing', async () => {
  const ca = await testCa('Reload test CA');
  const carol = await issuedBy(ca, 'carol');
  const caFile = path.join(dir, 'clients-ca.pem');
  await writeFile(caFile, ca.cert);
  const data = path.join(dir, 'data-ca');
  await ferryOk(
    [
      'users',
      'add',
      'carol',
      '--home',
      root,
      '--cert-login',
      'cert-or-password',
      '--password-stdin',
      '--data-dir',
      data,
    ],
    'carol-pw\n',
  );
  const config = path.join(dir, 'ca.yaml');
  await writeFile(config, 'logLevel: info\n');
  const r = await ServeProcess.start(['--config', config, '--workers', '2', '--data-dir', data], dir);
  const hup = async (text: string, outcome: RegExp): Promise<LogLine> => {
    await writeFile(config, text);
    const from = r.log.length;
    r.child.kill('SIGHUP');
    return reloaded(r, from, outcome);
  };
  try {
    assert.equal(await userReply(r, carol, '127.0.0.20'), 331, 'no client CA yet: a password is asked');
    await hup(`clientCertificates:\n  ca: ${caFile}\n`, /^configuration reloaded$/);
    // Two logins each time: sessions one after another may go to either worker.
    assert.equal(await userReply(r, carol, '127.0.0.21'), 232, 'the CA added by SIGHUP applies');
    assert.equal(await userReply(r, carol, '127.0.0.22'), 232);
    await hup(`clientCertificates:\n  ca: ${caFile}\n`, /^configuration reloaded$/);
    assert.equal(await userReply(r, carol, '127.0.0.23'), 232, 'a reload keeps the client CA');
    assert.equal(await userReply(r, carol, '127.0.0.24'), 232);
    const missing = path.join(dir, 'no-such-ca.pem');
    const failed = await hup(`clientCertificates:\n  ca: ${missing}\n`, /configuration reload failed/);
    assert.match(String(failed.err), /no-such-ca\.pem.*ENOENT/);
    assert.equal(await userReply(r, carol, '127.0.0.25'), 232, 'the running client CA stays');
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

test('SIGHUP: a client CRL file that now lists a certificate revokes it in every worker', async () => {
  const ca = await testCa('CRL reload test CA');
  const carol = await issuedBy(ca, 'carol');
  const caFile = path.join(dir, 'crl-test-ca.pem');
  const crlFile = path.join(dir, 'crl-test.crl');
  await writeFile(caFile, ca.cert);
  await writeFile(crlFile, await crlOf(ca));
  const data = path.join(dir, 'data-crl');
  await ferryOk(
    ['users', 'add', 'carol', '--home', root, '--cert-login', 'cert-or-password', '--password-stdin'].concat([
      '--data-dir',
      data,
    ]),
    'carol-pw\n',
  );
  const config = path.join(dir, 'crl.yaml');
  await writeFile(config, `clientCertificates:\n  ca: ${caFile}\n  crl: ${crlFile}\n`);
  const r = await ServeProcess.start(['--config', config, '--workers', '2', '--data-dir', data], dir);
  const hup = async (outcome: RegExp): Promise<LogLine> => {
    const from = r.log.length;
    r.child.kill('SIGHUP');
    return reloaded(r, from, outcome);
  };
  try {
    // Two logins each time: sessions one after another may go to either worker.
    assert.equal(await userReply(r, carol, '127.0.0.31'), 232, 'not revoked yet');
    assert.equal(await userReply(r, carol, '127.0.0.32'), 232);
    await writeFile(crlFile, await crlOf(ca, [carol]));
    await hup(/^configuration reloaded$/);
    assert.equal(await userReply(r, carol, '127.0.0.33'), 331, 'revoked: a password is asked');
    assert.equal(await userReply(r, carol, '127.0.0.34'), 331);
    await writeFile(crlFile, 'not a CRL\n');
    const failed = await hup(/configuration reload failed/);
    assert.match(String(failed.err), /crl-test\.crl: no PEM CRL in it/);
    assert.equal(await userReply(r, carol, '127.0.0.35'), 331, 'the running CRL stays');
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

for (const workers of [1, 2]) {
  test(`SIGHUP (--workers ${workers}): a config user made read-only, disabled or removed: their running sessions follow`, async () => {
    const home = path.join(dir, `cfg-home-${workers}`);
    await mkdir(home);
    const hash = await testHash('cfg-pw');
    const entry = (extra = ''): string =>
      `  - name: cfguser\n    passwordHash: ${hash}\n    home: ${home}\n${extra}`;
    const config = path.join(dir, `cfg-${workers}.yaml`);
    await writeFile(config, `users:\n${entry()}`);
    const r = await ServeProcess.start(
      ['--config', config, '--workers', String(workers), '--data-dir', path.join(dir, `data-cfg-${workers}`)],
      dir,
    );
    const open: RawFtp[] = [];
    /** One session per worker (each goes to the least busy one), each having stored a file. */
    const sessions = async (): Promise<RawFtp[]> => {
      const made: RawFtp[] = [];
      for (let i = 0; i < workers; i++) {
        const ftp = await login(r, 'cfguser', 'cfg-pw');
        open.push(ftp);
        made.push(ftp);
        await ftp.cmd('TYPE I', 200);
        assert.equal((await ftp.store(`a${i}.txt`, Buffer.from('a')))[1].code, 226);
      }
      return made;
    };
    const hup = async (text: string): Promise<void> => {
      await writeFile(config, text);
      const from = r.log.length;
      r.child.kill('SIGHUP');
      await reloaded(r, from, /^configuration reloaded$/);
    };
    try {
      const live = await sessions();
      if (workers > 1) {
        const pids = await r.loginPids('cfguser', 0, workers);
        assert.equal(new Set(pids).size, workers, 'a session on each worker');
      }
      await hup(`users:\n${entry('    readOnly: true\n')}`);
      for (const [i, ftp] of live.entries()) {
        assert.equal(textOf(await ftp.cmd('STOR b.txt', 553)), 'Permission denied: upload');
        await ftp.cmd(`DELE a${i}.txt`, 550);
        await ftp.cmd('PWD', 257);
      }
      await hup(`users:\n${entry('    readOnly: true\n    disabled: true\n')}`);
      for (const ftp of live) {
        assert.equal(textOf(await ftp.expect(421)), 'Account no longer available, closing.');
        await ftp.closed;
      }
      assert.match(await loginRefused(r, 'cfguser', 'cfg-pw', '127.0.0.32'), /Login incorrect/);

      // Enabled again, then taken out of the file.
      await hup(`users:\n${entry()}`);
      const again = await sessions();
      await hup('users: []\n');
      for (const ftp of again) {
        assert.equal(textOf(await ftp.expect(421)), 'Account no longer available, closing.');
        await ftp.closed;
      }
    } finally {
      await Promise.all(open.map((f) => f.close()));
      assert.equal(await r.stop(), 0);
    }
  });
}

test('SIGHUP with a bad file, then a worker killed: its replacement serves the running configuration', async () => {
  const config = path.join(dir, 'kept.yaml');
  await writeFile(config, await configText({ users: [['alice', 'pw']], perAddress: 10, pasv: '127.0.0.1' }));
  const r = await ServeProcess.start(
    ['--config', config, '--workers', '2', '--data-dir', path.join(dir, 'data-kept')],
    dir,
  );
  const open: RawFtp[] = [];
  try {
    // bob added, and a value that does not validate: the whole file is refused.
    const bad = await configText({
      users: [
        ['alice', 'pw'],
        ['bob', 'pw'],
      ],
      perAddress: 10,
      pasv: '127.0.0.1',
    });
    await writeFile(config, `${bad}idleTimeoutSeconds: -5\n`);
    const from = r.log.length;
    r.child.kill('SIGHUP');
    await reloaded(r, from, /configuration reload failed/);

    // The replacement's first outcome: ready, or its own exit (re-reading the file, it refused it).
    const { outcome, from: killed } = await r.killWorker();
    assert.equal(outcome.msg, 'worker ready', JSON.stringify(outcome));
    // Two sessions held at once: one on each worker, the replacement too; bob is not in the running users.
    for (let i = 0; i < 2; i++) open.push(await login(r, 'alice', 'pw'));
    const pids = await r.loginPids('alice', killed, 2);
    assert.ok(
      pids.includes(Number(outcome.workerPid)),
      `a login on the replacement ${String(outcome.workerPid)}`,
    );
    assert.match(await loginRefused(r, 'bob', 'pw', '127.0.0.40'), /Login incorrect/);
  } finally {
    await Promise.all(open.map((f) => f.close()));
    assert.equal(await r.stop(), 0);
  }
});

/** What the descriptors of process `pid` lead to (/proc/PID/fd; "(deleted)" marks a removed file). */
async function openFiles(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t !== '');
}

for (const workers of [1, 2]) {
  test(`SIGHUP after logrotate reopens the transfer log in every process (--workers ${workers}), even when the new config is rejected`, async () => {
    const base = await mkdtemp(path.join(dir, `rotate-${workers}-`));
    const config = path.join(base, 'ferry.yaml');
    const xferlog = path.join(base, 'xferlog');
    const good =
      (await configText({ users: [['alice', 'pw']], perAddress: 10, pasv: '127.0.0.1' })) +
      `xferlog: ${xferlog}\n`;
    await writeFile(config, good);
    const r = await ServeProcess.start(
      ['--config', config, '--workers', String(workers), '--data-dir', path.join(base, 'data')],
      base,
    );
    const target = { host: '127.0.0.1', port: r.implicitPort, user: 'alice', password: 'pw', implicit: true };
    const download = async (): Promise<void> => {
      const from = r.log.length;
      expectSuccess(await curlDownload(target, '/file.txt', path.join(base, 'down.txt')));
      await r.waitForLog((l) => r.log.indexOf(l) >= from && l.msg === 'disconnect', 'the session ended');
    };
    try {
      await download();
      // logrotate (create, then postrotate SIGHUP) while the config file has a typo.
      await rename(xferlog, `${xferlog}.1`);
      await writeFile(xferlog, '');
      await writeFile(config, `${good}bogusKey: 1\n`);
      const from = r.log.length;
      r.child.kill('SIGHUP');
      const failed = await reloaded(r, from, /configuration reload failed/);
      assert.match(String(failed.err), /bogusKey/);
      // Once that is logged, the primary and each worker write to the new file, none to the old.
      const pids = [r.child.pid ?? 0, ...r.workerPids];
      assert.equal(pids.length, workers === 1 ? 1 : 3);
      for (const pid of pids) {
        const files = await openFiles(pid);
        assert.ok(
          files.includes(xferlog),
          `process ${pid} has the new transfer log open: ${files.join(', ')}`,
        );
        assert.ok(
          !files.some((f) => f.startsWith(`${xferlog}.1`)),
          `process ${pid} let go of the rotated one`,
        );
      }
      await download();
    } finally {
      assert.equal(await r.stop(), 0);
    }
    const lines = async (file: string): Promise<string[]> =>
      (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
    assert.equal((await lines(`${xferlog}.1`)).length, 1, 'the transfer before the rotation');
    const now = await lines(xferlog);
    assert.equal(now.length, 1, 'the transfer after it');
    assert.match(now[0] ?? '', / \/file\.txt b _ o r alice ftp 0 \* c$/);
  });
}
