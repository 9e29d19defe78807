/**
 * Two Ferry nodes (`ferry serve` processes on 127.0.0.2 and 127.0.0.3) sharing one PostgreSQL 15
 * (real, test/support/postgres.ts) and one directory tree: a user added through the CLI logs in on
 * both, a ban raised at A refuses at B, uploads on both stop at one quota, maxSessions counts both,
 * a resume at B onto the file a cut upload at A left is refused, and kill -9 of A leaves B's
 * transfer and new logins untouched.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Reply } from '../../src/protocol/reply.js';
import { ferryOk as ferry, ServeProcess } from '../support/ferry-process.js';
import { TestPostgres } from '../support/postgres.js';
import { addUserWith } from '../support/users-cli.js';
import { RawFtp } from '../support/raw-ftp.js';
import { Database } from '../../src/db/database.js';

interface Node {
  host: string;
  proc: ServeProcess;
}

let pgc: TestPostgres;
let dir: string;
let home: string;
let a: Node;
let b: Node;

async function configFor(name: string): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  // Each node its own data dir (certificate, control socket); accounts and state in the database.
  await writeFile(
    file,
    `dataDir: ${dir}/data-${name}\naccounts:\n  postgres: "${pgc.url}"\ndefender:\n  threshold: 3\n`,
  );
  return file;
}

async function startNode(name: string, host: string): Promise<ServeProcess> {
  const config = await configFor(name);
  return ServeProcess.start(['--config', config, '--workers', '1', '--listen', host], dir);
}

async function connect(n: Node): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: n.host, port: n.proc.implicitPort, implicit: true });
  await ftp.expect(220);
  return ftp;
}

async function pass(n: Node, user: string, password: string): Promise<number> {
  const ftp = await connect(n);
  try {
    await ftp.cmd(`USER ${user}`, 331);
    return (await ftp.cmd(`PASS ${password}`)).code;
  } finally {
    await ftp.close();
  }
}

async function session(n: Node, user: string): Promise<RawFtp> {
  const ftp = await connect(n);
  await ftp.login(user, 'pw');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

/** STOR whose data the server may stop reading: the final reply. */
async function storeAll(ftp: RawFtp, name: string, bytes: Uint8Array): Promise<Reply> {
  const port = await ftp.epsv();
  const conn = await ftp.openData(port, { tls: ftp.dataTls });
  await ftp.cmd(`STOR ${name}`, 150);
  const sent = ftp.uploadClean(conn, bytes).catch(() => {});
  const r = await ftp.expect();
  await sent;
  return r;
}

function addUser(name: string, ...flags: string[]): Promise<void> {
  return addUserWith(path.join(dir, 'a.yaml'), home, name, ...flags);
}

describe('two nodes on one PostgreSQL and one directory tree', () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-nodes-'));
    home = path.join(dir, 'homes');
    await mkdir(home);
    const [procA, procB] = await ServeProcess.all([startNode('a', '127.0.0.2'), startNode('b', '127.0.0.3')]);
    a = { host: '127.0.0.2', proc: procA };
    b = { host: '127.0.0.3', proc: procB };
  });
  after(async () => {
    await a?.proc.stop('SIGKILL');
    await b?.proc.stop();
    await pgc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('a user added through node A’s CLI logs in on both nodes; its removal reaches both', async () => {
    await addUser('una');
    assert.equal(await pass(a, 'una', 'pw'), 230);
    assert.equal(await pass(b, 'una', 'pw'), 230);
    await ferry(['users', 'rm', 'una', '--config', path.join(dir, 'b.yaml')]);
    assert.equal(await pass(a, 'una', 'pw'), 530);
    assert.equal(await pass(b, 'una', 'pw'), 530);
  });

  test('two parallel uploads for one user on two nodes stop at the quota', async () => {
    const quota = 3 * 1024 * 1024;
    await addUser('quin', '--quota-size', String(quota));
    const [onA, onB] = await Promise.all([session(a, 'quin'), session(b, 'quin')]);
    try {
      const data = randomBytes(2 * 1024 * 1024);
      const replies = await Promise.all([storeAll(onA, 'from-a', data), storeAll(onB, 'from-b', data)]);
      const codes = replies.map((r) => r.code).sort();
      assert.ok(codes.includes(552), `one of them is refused for the quota: ${codes.join(', ')}`);
      let total = 0;
      for (const f of ['from-a', 'from-b'])
        total += (await stat(path.join(home, 'quin', f)).catch(() => ({ size: 0 }))).size;
      assert.ok(total <= quota, `stored ${total} ≤ ${quota}`);
      const shown = JSON.parse(
        await ferry(['users', 'show', 'quin', '--json', '--config', path.join(dir, 'a.yaml')]),
      ) as {
        usage?: { bytes: number };
      };
      assert.equal(shown.usage?.bytes, total, 'the usage recorded is what is stored');
    } finally {
      await onA.close();
      await onB.close();
    }
  });

  test('a worker killed mid-upload leaves no charge behind: the usage is counted again', async () => {
    await addUser('kit', '--quota-size', String(4 * 1024 * 1024));
    const config = await configFor('c');
    const c = await ServeProcess.start(['--config', config, '--workers', '2', '--listen', '127.0.0.4'], dir);
    const node: Node = { host: '127.0.0.4', proc: c };
    const db = await Database.open(pgc.url);
    const usage = async (): Promise<number> =>
      Number(
        (await db.query<{ bytes: string }>("SELECT bytes FROM ferry_usage WHERE username = 'kit'")).rows[0]
          ?.bytes ?? 0,
      );
    const open: RawFtp[] = [];
    try {
      const ftp = await session(node, 'kit');
      open.push(ftp);
      assert.equal((await storeAll(ftp, 'keep', randomBytes(100_000))).code, 226);
      // An upload whose first batches (256 KiB each) are charged, cut by its worker's death.
      const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
      await ftp.cmd('STOR cut.bin', 150);
      conn.stream.resume();
      conn.stream.write(randomBytes(1024 * 1024));
      for (let i = 0; (await usage()) < 100_000 + 512 * 1024; i++) assert.ok(i < 20_000, 'never charged');
      process.kill(await c.pidOfLogin('kit'), 'SIGKILL');
      await c.waitForLog(
        (l) => l.msg === 'stale upload temp files removed' && Number(l.removed) > 0,
        'the sweep',
      );
      const next = await session(node, 'kit');
      open.push(next);
      assert.equal((await storeAll(next, 'after', randomBytes(1000))).code, 226);
      const shown = JSON.parse(await ferry(['users', 'show', 'kit', '--json', '--config', config])) as {
        usage?: { bytes: number; files: number };
      };
      assert.deepEqual(shown.usage, { bytes: 101_000, files: 2 }, 'what is stored, no more');
    } finally {
      await Promise.all(open.map((f) => f.close()));
      await db.close();
      await c.stop();
    }
  });

  test('max-sessions counts the sessions on both nodes', async () => {
    await addUser('max', '--max-sessions', '2');
    const one = await session(a, 'max');
    const two = await session(b, 'max');
    try {
      assert.equal(await pass(a, 'max', 'pw'), 421);
      assert.equal(await pass(b, 'max', 'pw'), 421);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('a ban raised by failed logins at node A refuses the address at node B', async () => {
    for (let i = 0; i < 3; i++) if ((await pass(a, 'nobody', 'bad').catch(() => 0)) === 0) break;
    await a.proc.waitForLog((l) => l.msg === 'address banned', 'the ban on A');
    await b.proc.waitForLog((l) => l.msg === 'address banned (shared)', 'the ban reaching B');
    await assert.rejects(pass(b, 'max', 'pw'), 'B refuses the address');
    await ferry(['bans', 'rm', '127.0.0.1', '--config', path.join(dir, 'b.yaml')]);
    await b.proc.waitForLog((l) => l.msg === 'address unbanned (shared)', 'the ban lifted on B');
    assert.equal(await pass(b, 'max', 'pw'), 230);
  });

  test('a replacing upload cut on node A: a resume on node B is refused; a whole upload there stores, then APPE works', async () => {
    await addUser('cut');
    const file = path.join(home, 'cut', 'doc.bin');
    const [oldVersion, newVersion] = [randomBytes(300_000), randomBytes(500_000)];
    const text = (r: Reply): string => r.lines.join('\n');
    const [onA, onB] = await Promise.all([session(a, 'cut'), session(b, 'cut')]);
    try {
      assert.equal((await storeAll(onA, 'doc.bin', oldVersion)).code, 226);
      const conn = await onA.openData(await onA.epsv(), { tls: onA.dataTls });
      await onA.cmd('STOR doc.bin', 150);
      await onA.uploadTruncated(conn, newVersion.subarray(0, 200_000));
      const cut = await onA.expect();
      assert.ok(cut.code === 426 || cut.code === 451, `cut upload: ${cut.code} ${text(cut)}`);
      assert.deepEqual(await readFile(file), oldVersion, 'the old version stays');

      // The client's resume reaches the other node (a balancer): SIZE gives no size of the version
      // the cut left; a REST + STOR of the rest (from a listing's size) is refused.
      await onB.cmd('SIZE doc.bin', 504);
      await onB.epsv();
      await onB.cmd('REST 300000', 350);
      const rest = await onB.cmd('STOR doc.bin');
      assert.equal(rest.code, 451, text(rest));
      assert.match(text(rest), /^Resume refused \(Append\/Restart not permitted\)/);
      assert.deepEqual(await readFile(file), oldVersion, 'nothing spliced');

      assert.equal((await storeAll(onB, 'doc.bin', newVersion)).code, 226);
      assert.deepEqual(await readFile(file), newVersion);
      const tail = randomBytes(1000);
      const [, appended] = await onB.store('doc.bin', tail, 'APPE');
      assert.equal(appended.code, 226, text(appended));
      assert.deepEqual(await readFile(file), Buffer.concat([newVersion, tail]));
    } finally {
      await onA.close();
      await onB.close();
    }
  });

  test('kill -9 of node A: a transfer on node B finishes intact, and new logins keep working', async () => {
    await addUser('kim', '--download-rate', '4M');
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(path.join(home, 'kim', 'big'), data);
    const onB = await session(b, 'kim');
    try {
      const got = onB.retrieve('big'); // paced: about 1.5 s
      await a.proc.stop('SIGKILL');
      const bytes = await got;
      assert.equal(
        createHash('sha256').update(bytes).digest('hex'),
        createHash('sha256').update(data).digest('hex'),
      );
      assert.equal(await pass(b, 'kim', 'pw'), 230);
    } finally {
      await onB.close();
    }
  });
});
