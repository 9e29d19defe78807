/**
 * Uploads the filesystem refuses the server's user for good (a directory it may not write, a file of
 * another owner in a sticky directory) are refused before the 150 with 553 (APPE: 550), not answered 451 ("try
 * again": lftp retried about a thousand times) once the client has sent them; a refusal that can only
 * show after the 150 gets 551, a permanent code, once the client's data is read and dropped. Neither
 * leaves a "cut upload" record refusing the next APPE. As root (CI) the server runs as a test user
 * (`--run-as`): root writes anywhere.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { unprivilegedAccount, type SystemAccount } from '../support/accounts.js';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';

const run = promisify(execFile);

describe('uploads the filesystem refuses for good', () => {
  let dir: string;
  let home: string;
  let owner: SystemAccount | undefined;
  let server: ServeProcess;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-refused-uploads-'));
    await chmod(dir, 0o755); // the run-as user must reach what it serves
    owner = await unprivilegedAccount();
    home = path.join(dir, 'ru');
    await mkdir(home);
    const data = path.join(dir, 'data');
    const add = await ferryUsers(data, ['add', 'ru', '--home', home, '--password-stdin'], 'rupass\n');
    assert.equal(add.code, 0, add.stderr);
    if (owner) await run('chown', ['-R', `${owner.uid}:${owner.gid}`, data, home]);
    server = await ServeProcess.start(
      [...(owner ? ['--run-as', owner.name] : []), '--workers', '1', '--data-dir', data],
      dir,
    );
  });

  after(async () => {
    await server?.stop();
    await run('chmod', ['-R', 'u+w', dir]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  /** A directory of the home the server's user owns (`mode` as given), holding old.txt. */
  async function ownDir(name: string, mode: number): Promise<string> {
    const d = path.join(home, name);
    await mkdir(d);
    await writeFile(path.join(d, 'old.txt'), 'old\n');
    if (owner) for (const p of [d, path.join(d, 'old.txt')]) await chown(p, owner.uid, owner.gid);
    await chmod(d, mode);
    return d;
  }

  async function session(): Promise<RawFtp> {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
    await ftp.expect(220);
    await ftp.login('ru', 'rupass');
    await ftp.cmd('TYPE I', 200);
    return ftp;
  }

  test('a directory the server may not write: 553 (APPE 550) before any 150, logged, and no cut record', async () => {
    const ro = await ownDir('ro', 0o555);
    const ftp = await session();
    const refused: Promise<void>[] = [];
    try {
      for (const [cmd, code] of [
        ['STOR ro/new.txt', 553], // RFC 959 gives STOR no 550 (vsftpd: 553 too)
        ['STOR ro/old.txt', 553],
        ['APPE ro/old.txt', 550],
        ['APPE ro/new.txt', 550],
      ] as const) {
        const conn = await ftp.openData(await ftp.epsv(), { tls: false });
        const r = await ftp.cmd(cmd);
        assert.deepEqual(
          [r.code, textOf(r)],
          [code, 'Permission denied.'],
          `${cmd}: one ${code} (was 150, then 451)`,
        );
        // Nothing followed the refusal, and no later transfer takes its data connection (it was left
        // open: the next transfer used it). The server holds it until the client closes it (curl reads
        // the refusal only then) or the session ends.
        await ftp.cmd('NLST', 425);
        refused.push(conn.closed);
      }
      const logged = await server.waitForLog(
        (l) => l.msg === "the filesystem refused the server's user (EACCES)",
        'the cause logged',
      );
      assert.equal(logged.user, 'ru');
      // Once the directory is writable, appending works: the refused STOR left no "cut upload".
      await chmod(ro, 0o755);
      const [, appended] = await ftp.store('ro/old.txt', Buffer.from('more\n'), 'APPE');
      assert.equal(appended.code, 226, textOf(appended));
      assert.equal(await readFile(path.join(ro, 'old.txt'), 'utf8'), 'old\nmore\n');
      await ftp.cmd('QUIT', 221);
      await withDeadline(
        Promise.all(refused),
        10_000,
        'the refused data connections closed with the session',
      );
    } finally {
      await ftp.close();
    }
  });

  test(
    'a file of another owner in a sticky directory: 553 before any 150',
    { skip: process.getuid?.() !== 0 && 'needs root' },
    async () => {
      const sticky = path.join(home, 'sticky');
      await mkdir(sticky);
      await chmod(sticky, 0o1777); // root's, as /tmp is
      await writeFile(path.join(sticky, 'roots.txt'), 'root\n');
      const ftp = await session();
      try {
        const conn = await ftp.openData(await ftp.epsv(), { tls: false });
        const r = await ftp.cmd('STOR sticky/roots.txt');
        assert.deepEqual([r.code, textOf(r)], [553, 'Permission denied.'], 'one 553 (was 150, then 451)');
        await ftp.cmd('NLST', 425); // nothing followed the 553, and no transfer takes its connection
        // Its own file there it may replace.
        const [, own] = await ftp.store('sticky/mine.txt', Buffer.from('a\n'));
        assert.equal(own.code, 226, textOf(own));
        const [, again] = await ftp.store('sticky/mine.txt', Buffer.from('b\n'));
        assert.equal(again.code, 226, textOf(again));
        assert.equal(await readFile(path.join(sticky, 'roots.txt'), 'utf8'), 'root\n');
        // The refused STOR's temp file was made (the sticky rule is checked after it) and removed.
        assert.deepEqual((await readdir(sticky)).sort(), ['mine.txt', 'roots.txt'], 'no temp file left');
        await ftp.cmd('QUIT', 221);
        await withDeadline(conn.closed, 10_000, 'the refused data connection closed with the session');
      } finally {
        await ftp.close();
      }
    },
  );

  test('refused after the 150 (write access removed meanwhile): 551 once the data is read, no cut record', async () => {
    const late = await ownDir('late', 0o755);
    const ftp = await session();
    try {
      const plain = await ftp.openData(await ftp.epsv(), { tls: false });
      await ftp.cmd('STOR late/old.txt', 150);
      // The data connection's TLS starts only now, so the server's upload has not begun.
      await chmod(late, 0o555);
      const conn = await ftp.secureData(plain);
      // The whole upload is read (and dropped): a reset would make lftp send it again and again.
      await ftp.uploadClean(conn, randomBytes(4 * 1024 * 1024));
      const r = await ftp.expect();
      assert.deepEqual([r.code, textOf(r)], [551, 'Permission denied.'], 'a permanent code (was 451)');
      assert.equal(await readFile(path.join(late, 'old.txt'), 'utf8'), 'old\n');
      await chmod(late, 0o755);
      const [, appended] = await ftp.store('late/old.txt', Buffer.from('more\n'), 'APPE');
      assert.equal(appended.code, 226, `no cut record: ${textOf(appended)}`);
      assert.equal(await readFile(path.join(late, 'old.txt'), 'utf8'), 'old\nmore\n');
    } finally {
      await ftp.close();
    }
  });

  test('a temp file the refused upload could not remove is logged, and removed once an upload there ends', async () => {
    // The admin's directory (root's), the server's user writing by its group: one it made read-only
    // is not the server's to open again (one of its own is: upload-temp-readonly-dir.test.ts).
    const late = await ownDir('left-temp', 0o775);
    if (owner) await chown(late, 0, owner.gid);
    const ftp = await session();
    try {
      const plain = await ftp.openData(await ftp.epsv(), { tls: false });
      await ftp.cmd('STOR left-temp/old.txt', 150);
      await chmod(late, 0o555); // the temp file is there already: nor rename nor unlink may act now
      await ftp.uploadClean(await ftp.secureData(plain), randomBytes(64 * 1024));
      assert.equal((await ftp.expect()).code, 551);
      const temps = (await readdir(late)).filter((n) => n.startsWith('.ferry-upload-'));
      assert.equal(temps.length, 1, 'left behind: the directory refuses its removal');
      const logged = await server.waitForLog((l) => l.temp === temps[0], 'the temp file left named');
      assert.deepEqual([logged.level, logged.file, logged.error], [40, '/left-temp/old.txt', 'EACCES']);
      await chmod(late, 0o775);
      const [, stored] = await ftp.store('left-temp/new.txt', Buffer.from('new\n'));
      assert.equal(stored.code, 226, textOf(stored));
      assert.deepEqual(
        (await readdir(late)).sort(),
        ['new.txt', 'old.txt'],
        'removed by the next upload there',
      );
    } finally {
      await ftp.close();
    }
  });

  test('a 551 after an earlier cut upload keeps that cut record: a resume still cannot splice', async () => {
    const late = await ownDir('cut-then-late', 0o755);
    const ftp = await session();
    try {
      // A STOR cut short (no close_notify) leaves old.txt as it was, remembered as a cut's leftover.
      const cutConn = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR cut-then-late/old.txt', 150);
      await ftp.uploadTruncated(cutConn, Buffer.from('NEW-VERSION-START\n'));
      const cut = await ftp.expect();
      assert.ok(cut.code === 426 || cut.code === 451, `cut upload: ${cut.code} ${textOf(cut)}`);
      await ftp.epsv();
      assert.equal((await ftp.cmd('APPE cut-then-late/old.txt')).code, 451, 'resume refused after the cut');
      // The new version again, refused for good after its 150.
      const plain = await ftp.openData(await ftp.epsv(), { tls: false });
      await ftp.cmd('STOR cut-then-late/old.txt', 150);
      await chmod(late, 0o555);
      const conn = await ftp.secureData(plain);
      await ftp.uploadClean(conn, Buffer.from('NEW-VERSION\n'));
      const r = await ftp.expect();
      assert.deepEqual([r.code, textOf(r)], [551, 'Permission denied.']);
      await chmod(late, 0o755);
      // The old version is still a cut's leftover: continuing it would splice old and new.
      await ftp.epsv();
      const appe = await ftp.cmd('APPE cut-then-late/old.txt');
      assert.equal(appe.code, 451, `resume still refused (was 150, 226: old + new): ${textOf(appe)}`);
      assert.equal(await readFile(path.join(late, 'old.txt'), 'utf8'), 'old\n');
    } finally {
      await ftp.close();
    }
  });
});
