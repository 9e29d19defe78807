import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, watch, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fingerprintOf, generateSelfSigned } from '../../src/tls/certificates.js';
import { parsePasvReply } from '../../src/protocol/address.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';
import { alive, implicitSession, ServeProcess } from '../support/ferry-process.js';
import { freeRangeOn } from '../support/ports.js';
import { readStat } from '../support/proc.js';

const USERS = ['a', 'b', 'c', 'd', 'e', 'f'].flatMap((u) => ['--user', `${u}:pw-${u}`]);
const CONTENT = 'served by one worker\n'.repeat(500);

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'file.txt'), CONTENT);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** RETR over PASV (the EPSV variant is RawFtp.retrieve). */
async function retrieveOverPasv(ftp: RawFtp, file: string): Promise<Buffer> {
  const r = await ftp.cmd('PASV', 227);
  const port = parsePasvReply(textOf(r))?.port;
  assert.ok(port, textOf(r));
  const conn = await ftp.openData(port, { tls: true });
  await ftp.cmd(`RETR ${file}`, 150);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  return data;
}

test('--workers 2: sessions spread over both workers, data connections reach the worker of their control connection, maxSessionsPerAddress counts across workers', async () => {
  const pasv = await freeRangeOn(8, ['127.0.0.1']);
  const config = path.join(dir, 'limits.yaml');
  await writeFile(config, 'maxSessionsPerAddress: 6\n');
  const r = await ServeProcess.start(
    [
      ...['--workers', '2', '--config', config, '--pasv-ports', `${pasv.min}-${pasv.max}`],
      ...['--data-dir', path.join(dir, 'd1'), ...USERS],
    ],
    root,
  );
  const sessions: RawFtp[] = [];
  try {
    const pids = r.workerPids;
    assert.equal(pids.length, 2, r.banner);
    assert.ok(!pids.includes(r.child.pid ?? -1), 'workers are processes of their own');
    // Node's options for a serving process: a 4 MiB young generation (cli/workers.ts says why).
    for (const pid of pids) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '));
    }
    // The primary hands each connection to the worker holding the fewest: two held sessions, two workers.
    sessions.push(await implicitSession(r, 'a'), await implicitSession(r, 'b'));
    const served = [await r.pidOfLogin('a'), await r.pidOfLogin('b')];
    assert.deepEqual([...served].sort(), [...pids].sort());
    // Each worker logs through its own logger, a child tagged with its position.
    const loginOf = (u: string) => r.waitForLog((l) => l.msg === 'login' && l.user === u, u);
    const tags = [(await loginOf('a')).worker, (await loginOf('b')).worker];
    assert.deepEqual([...tags].sort(), [1, 2]);

    // Six sessions at once (three on each worker) share 8 passive ports; every transfer must
    // succeed, so no data connection ever lands in the other worker.
    sessions.push(...(await Promise.all(['c', 'd', 'e', 'f'].map((u) => implicitSession(r, u)))));
    await Promise.all(
      sessions.map(async (ftp) => {
        for (let i = 0; i < 3; i++) {
          assert.equal((await ftp.retrieve('file.txt')).toString(), CONTENT);
          assert.equal((await retrieveOverPasv(ftp, 'file.txt')).toString(), CONTENT);
        }
      }),
    );
    const loginPids = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((u) => r.pidOfLogin(u)));
    assert.deepEqual(
      pids.map((pid) => loginPids.filter((p) => p === pid).length),
      [3, 3],
    );

    // Each worker holds 3 sessions from 127.0.0.1, under the limit of 6 on its own; together they are at it.
    const seventh = await RawFtp.connect({ host: '127.0.0.1', port: r.explicitPort, implicit: false });
    assert.match(textOf(await seventh.expect(421)), /Too many connections/);
    await seventh.close();
    // A session that ends frees its place, whichever worker served it (once that worker has told
    // the primary: try a bounded number of times).
    await sessions.shift()?.quit();
    let greeting = 0;
    for (let i = 0; i < 100 && greeting !== 220; i++) {
      const again = await RawFtp.connect({ host: '127.0.0.1', port: r.explicitPort, implicit: false });
      greeting = (await again.expect()).code;
      await again.close();
    }
    assert.equal(greeting, 220);
    await Promise.all(sessions.map((s) => s.close()));
    sessions.length = 0;
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2: SIGHUP reloads every worker, a killed worker is restarted while the other serves on, SIGTERM stops all', async () => {
  const certFile = path.join(dir, 'w.crt');
  const keyFile = path.join(dir, 'w.key');
  const first = await generateSelfSigned('localhost');
  const second = await generateSelfSigned('localhost');
  await writeFile(certFile, first.cert);
  await writeFile(keyFile, first.key);
  const r = await ServeProcess.start(
    ['--workers', '2', '--cert', certFile, '--key', keyFile, ...USERS],
    root,
  );
  const open: RawFtp[] = [];
  const fingerprint = (ftp: RawFtp): string => ftp.controlTls?.getPeerCertificate().fingerprint256 ?? '';
  try {
    const [pidA, pidB] = r.workerPids;
    assert.ok(pidA && pidB, r.banner);
    const a = await implicitSession(r, 'a');
    const b = await implicitSession(r, 'b');
    open.push(a, b);
    assert.equal(fingerprint(a), fingerprintOf(first.cert));
    assert.equal(fingerprint(b), fingerprintOf(first.cert));

    await writeFile(certFile, second.cert);
    await writeFile(keyFile, second.key);
    r.child.kill('SIGHUP');
    for (const pid of [pidA, pidB]) {
      await r.waitForLog((l) => l.msg === 'certificates reloaded' && l.pid === pid, `reload in ${pid}`);
    }
    // Two new sessions, held together, go one to each worker: both serve the new certificate.
    const c = await implicitSession(r, 'c');
    const d = await implicitSession(r, 'd');
    open.push(c, d);
    assert.notEqual(await r.pidOfLogin('c'), await r.pidOfLogin('d'));
    assert.equal(fingerprint(c), fingerprintOf(second.cert));
    assert.equal(fingerprint(d), fingerprintOf(second.cert));
    await a.cmd('NOOP', 200); // sessions from before the reload keep going
    await Promise.all([c.quit(), d.quit()]);
    open.splice(2);

    // kill -9 the worker serving 'a': 'b' on the other worker carries on, and a new worker starts.
    const victim = await r.pidOfLogin('a');
    const survivorPid = await r.pidOfLogin('b');
    assert.notEqual(victim, survivorPid);
    process.kill(victim, 'SIGKILL');
    const ready = await r.waitForLog(
      (l) =>
        l.msg === 'worker ready' &&
        typeof l.workerPid === 'number' &&
        l.workerPid !== pidA &&
        l.workerPid !== pidB,
      'a new worker',
    );
    await b.cmd('NOOP', 200);
    assert.equal((await b.retrieve('file.txt')).toString(), CONTENT);
    // The new worker holds nothing, so it gets the next session.
    const e = await implicitSession(r, 'e');
    open.push(e);
    assert.equal(await r.pidOfLogin('e'), ready.workerPid);
    assert.equal(fingerprint(e), fingerprintOf(second.cert));

    // Graceful stop: open sessions are told, every worker exits, then the primary with 0.
    const told = Promise.all([b.expect(421), e.expect(421)]);
    assert.equal(await r.stop(), 0);
    for (const reply of await told) assert.match(textOf(reply), /shutting down/);
    for (const pid of [survivorPid, Number(ready.workerPid)])
      assert.equal(alive(pid), false, `worker ${pid} gone`);
  } finally {
    await Promise.all(open.map((s) => s.close()));
    await r.stop();
  }
});

test("--workers 2: a worker killed mid-upload leaves no temp file behind (the primary sweeps the dead worker's)", async () => {
  const r = await ServeProcess.start(['--workers', '2', ...USERS], root);
  const ftp = await implicitSession(r, 'f');
  const uploads = async (): Promise<string[]> =>
    (await readdir(root)).filter((n) => n.startsWith('.ferry-upload-'));
  try {
    const conn = await ftp.openData(await ftp.epsv(), { tls: true });
    conn.stream.resume();
    // The upload's temp file appears once the worker has received its first bytes.
    const appeared = (async () => {
      for await (const e of watch(root)) if (e.filename?.startsWith('.ferry-upload-')) return;
    })();
    await ftp.cmd('STOR cut.bin', 150);
    conn.stream.write(Buffer.alloc(256 * 1024, 7));
    await appeared;
    assert.equal((await uploads()).length, 1);
    process.kill(await r.pidOfLogin('f'), 'SIGKILL');
    const swept = await r.waitForLog(
      (l) => l.msg === 'stale upload temp files removed' && Number(l.removed) > 0,
      'the sweep after the crash',
    );
    assert.equal(swept.removed, 1);
    assert.deepEqual(await uploads(), []);
    await assert.rejects(readFile(path.join(root, 'cut.bin')), { code: 'ENOENT' });
  } finally {
    await ftp.close();
    await r.stop();
  }
});

/** The first reply on the explicit port, from the first connection the port accepts (tried until it does). */
async function firstGreeting(port: number, deadline: number): Promise<string> {
  for (;;) {
    const sock = net.connect({ host: '127.0.0.1', port });
    const outcome = await new Promise<string | Error>((resolve) => {
      let text = '';
      sock.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.endsWith('\r\n')) resolve(text);
      });
      sock.once('error', (err) => resolve(err));
      sock.once('close', () => resolve(new Error(`closed after "${text}"`)));
    });
    sock.destroy();
    if (typeof outcome === 'string') return outcome;
    if ((outcome as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw outcome;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('--workers 2: the first connection the port accepts is served (the listeners open once the workers serve)', async () => {
  const { server, result } = await ServeProcess.startWhile(['--workers', '2', ...USERS], root, (ports) =>
    firstGreeting(ports.explicitPort, Date.now() + 90_000),
  );
  try {
    assert.match(result, /^220 /);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--workers 2: the login cache answers repeated logins in each worker (a password is hashed at most once per worker)', async () => {
  const r = await ServeProcess.start(
    ['--workers', '2', '--admin-listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd3'), ...USERS],
    root,
  );
  try {
    const admin = /admin\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(r.banner)?.[1];
    assert.ok(admin, r.banner);
    // One after the other: the primary sends them to either worker.
    const logins = 8;
    for (let i = 0; i < logins; i++) await (await implicitSession(r, 'a')).quit();
    const bad = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
    await bad.expect(220);
    await bad.cmd('USER a', 331);
    await bad.cmd('PASS wrong', 530);
    await bad.close();
    const text = await (await fetch(`${admin}/metrics`)).text();
    const value = (series: string): number => Number(new RegExp(`^${series} (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('ferry_logins_total\\{result="success"\\}'), logins, text);
    const hashes = value('ferry_password_hashes_total');
    // At most one per worker for the right password, and always one for a wrong one.
    assert.ok(hashes >= 2 && hashes <= 3, `${hashes} hashes for ${logins} logins and a wrong password`);
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2: when the primary is killed, each worker ends its sessions and exits with a log line, without an uncaught IPC error', async () => {
  const r = await ServeProcess.start(['--workers', '2', '--data-dir', path.join(dir, 'd4'), ...USERS], root);
  const ftp = await implicitSession(r, 'a');
  try {
    const pids = r.workerPids;
    assert.equal(pids.length, 2, r.banner);
    const serving = await r.pidOfLogin('a');
    // The workers write to the primary's standard output and error (inherited): both end once
    // every worker has exited, after the primary.
    let stderr = '';
    r.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const ended = Promise.all([once(r.child.stdout!, 'end'), once(r.child.stderr!, 'end')]);
    const told = ftp.expect(421);
    assert.equal(await r.stop('SIGKILL'), null);
    await withDeadline(ended, 30_000, 'the workers to exit');
    // Closing its output is about the last thing a process does: give it a moment to be gone.
    const gone = (pid: number): boolean => !alive(pid) || readStat(pid)?.state === 'Z';
    for (let i = 0; i < 100 && !pids.every(gone); i++) await delay(50);
    for (const pid of pids) assert.ok(gone(pid), `worker ${pid} gone`);
    // The session on the worker was ended (told, then closed), not left to hang.
    assert.match(textOf(await told), /shutting down/);
    assert.doesNotMatch(stderr, /ERR_IPC_CHANNEL_CLOSED|uncaught|^\s+at /im, stderr);
    for (const pid of pids)
      await r.waitForLog(
        (l) => l.msg === 'primary gone: closing this worker' && l.pid === pid,
        `${pid}'s line`,
      );
    assert.ok(pids.includes(serving));
  } finally {
    await ftp.close();
    await r.stop();
  }
});
