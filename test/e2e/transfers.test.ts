/**
 * Transfers over explicit and implicit FTPS: uploads never replace a file with a truncated one,
 * restarts and appends, STOU, ABOR ordering, out-of-band STAT, pipelining, TYPE A conversion.
 */
import assert from 'node:assert/strict';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { waitEvent, withDeadline, type DataConnection, type RawFtp } from '../support/raw-ftp.js';
import {
  assertSameBytes,
  loggedIn,
  MODES,
  randomData,
  textOf,
  useFerry,
  waitForLog,
  withClients,
} from './harness.js';

const BIG = 50 * 1024 * 1024;

/** Upload temp files the storage might leave behind. */
async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((n) => /\.ferry-upload-|\.tmp$/.test(n));
}

/** Waits until `conn` has delivered some bytes, then stops reading (the server stalls). */
async function firstBytes(conn: DataConnection): Promise<void> {
  const got = waitEvent(conn.stream, 'data');
  conn.stream.resume();
  await got;
  conn.stream.pause();
}

/** Starts a binary RETR of big.bin over a TLS data connection and stalls it after its first bytes. */
async function stalledBigRetr(ftp: RawFtp): Promise<DataConnection> {
  await ftp.cmd('TYPE I', 200);
  const port = await ftp.epsv();
  const conn = await ftp.openData(port, { tls: true });
  await ftp.cmd('RETR big.bin', 150);
  await firstBytes(conn);
  return conn;
}

for (const mode of MODES) {
  describe(`transfers (${mode})`, { timeout: 180_000 }, () => {
    const server = useFerry();
    before(async () => {
      // A 50 MB file (a repeating pattern: quick to make) for ABOR and STAT during a transfer.
      const block = Buffer.alloc(1 << 20);
      for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 255;
      await writeFile(
        path.join(server().root, 'big.bin'),
        Buffer.concat(Array.from({ length: BIG >> 20 }, () => block)),
      );
    });

    test('a STOR cut short (TCP FIN without TLS close_notify) gets 426 and the previous file stays intact', async () => {
      const v1 = randomData(300_000);
      const v2 = randomData(300_000);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const [, ok] = await ftp.store('keep.bin', v1);
        assert.equal(ok.code, 226, textOf(ok));

        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('STOR keep.bin', 150);
        await ftp.uploadTruncated(conn, v2.subarray(0, 200_000));
        const r = await ftp.expect();
        assert.ok(r.code === 426 || r.code === 451, `expected 426/451, got ${r.code} ${textOf(r)}`);

        assertSameBytes(await readFile(path.join(server().root, 'keep.bin')), v1, 'file on disk');
        assertSameBytes(await ftp.retrieve('keep.bin'), v1, 'downloaded file');
        assert.deepEqual(await tempFiles(server().root), []);
      });
    });

    test('a large STOR (synced in the background as it arrives) gets its 226; one cut by a bare FIN over it gets 426 and changes nothing', async () => {
      // Over 32 MiB: the disk writer has started background fdatasyncs before the end.
      const v1 = await readFile(path.join(server().root, 'big.bin'));
      const v2 = Buffer.alloc(40 * 1024 * 1024, 0x5a);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const [, ok] = await ftp.store('large.bin', v1);
        assert.equal(ok.code, 226, textOf(ok));
        assertSameBytes(await readFile(path.join(server().root, 'large.bin')), v1, 'stored file');

        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('STOR large.bin', 150);
        await ftp.uploadTruncated(conn, v2);
        const r = await ftp.expect();
        assert.ok(r.code === 426 || r.code === 451, `expected 426/451, got ${r.code} ${textOf(r)}`);
        assertSameBytes(await readFile(path.join(server().root, 'large.bin')), v1, 'file on disk');
        assert.deepEqual(await tempFiles(server().root), []);
      });
    });

    test('a client vanishing mid-upload (control and data destroyed) leaves the previous file and no temp file', async () => {
      const v1 = randomData(200_000);
      await writeFile(path.join(server().root, 'vanish.bin'), v1);
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('STOR vanish.bin', 150);
        conn.stream.write(randomData(100_000));
        // Wait (on replies, not time) until the server has received bytes: the upload is under way.
        for (let i = 0; ; i++) {
          const stat = textOf(await ftp.cmd('STAT', 211));
          const m = /(\d+) bytes/.exec(stat);
          if (m && Number(m[1]) > 0) break;
          assert.ok(i < 500, `upload never started: ${stat}`);
        }
        await ftp.close(); // destroys control and data sockets at once
        const logged = await waitForLog(
          server(),
          (l) => l.msg === 'transfer' && 'transfer' in l.obj && l.obj.transfer === 'STOR',
          from,
        );
        assert.ok(
          'reply' in logged.obj && logged.obj.reply !== 226,
          `upload must not succeed: ${JSON.stringify(logged.obj)}`,
        );
      });
      assertSameBytes(await readFile(path.join(server().root, 'vanish.bin')), v1, 'file on disk');
      assert.deepEqual(await tempFiles(server().root), []);
    });

    test('REST + STOR resumes an upload; REST + RETR resumes a download', async () => {
      // Past several of the server's 256 KiB disk writes on each side of the offset.
      const full = randomData(1_300_000);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.store('resume.bin', full.subarray(0, 600_000));
        await ftp.cmd('REST 600000', 350);
        const [, done] = await ftp.store('resume.bin', full.subarray(600_000));
        assert.equal(done.code, 226, textOf(done));
        assertSameBytes(await readFile(path.join(server().root, 'resume.bin')), full, 'resumed upload');

        await ftp.cmd('REST 200000', 350);
        assertSameBytes(await ftp.retrieve('resume.bin'), full.subarray(200_000), 'resumed download');
        // The offset applies to one transfer only.
        assertSameBytes(await ftp.retrieve('resume.bin'), full, 'next download is whole');
        await ftp.cmd('REST abc', 501);
      });
    });

    test('REST beyond the end of the file gets 554 before any 150 (no gap of zeros is written); REST at the end continues the file', async () => {
      const root = server().root;
      const old = randomData(1000);
      await writeFile(path.join(root, 'gap.bin'), old);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        for (const offset of [150_000_000, 1_000_000_000_000, 1001]) {
          const conn = await ftp.openData(await ftp.epsv(), { tls: false });
          await ftp.cmd(`REST ${offset}`, 350);
          const r = await ftp.cmd('STOR gap.bin');
          assert.equal(r.code, 554, `REST ${offset} → ${r.code} ${textOf(r)} (no 150 may come first)`);
          assert.equal(textOf(r), 'Restart position beyond the end of the file.');
          await ftp.cmd('NOOP', 200); // the next reply is the next command's
          assert.deepEqual(conn.received, [], 'nothing sent on the data connection');
          conn.raw.destroy();
          await conn.closed;
        }
        const st = await stat(path.join(root, 'gap.bin'));
        assert.equal(st.size, 1000, 'the file is as it was');
        // A resume (lftp's put -c) restarts at the size it measured: that continues the file.
        await ftp.cmd('REST 1000', 350);
        const [, done] = await ftp.store('gap.bin', Buffer.from('abc'));
        assert.equal(done.code, 226, textOf(done));
      });
      assertSameBytes(await readFile(path.join(root, 'gap.bin')), Buffer.concat([old, Buffer.from('abc')]));
      assert.deepEqual(await tempFiles(root), []);
    });

    test('REST beyond the end of the file + RETR gets 554 before any 150, counted as SIZE counts (TYPE I and A); REST at the end sends nothing', async () => {
      // 1000 bytes with 10 bare LFs: TYPE A sends 1010.
      const text = Buffer.from(`${'x'.repeat(99)}\n`.repeat(10));
      await writeFile(path.join(server().root, 'resume-past.txt'), text);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const [type, size] of [
          ['I', 1000],
          ['A', 1010],
        ] as const) {
          await ftp.cmd(`TYPE ${type}`, 200);
          await ftp.cmd('SIZE resume-past.txt', 213);
          const conn = await ftp.openData(await ftp.epsv(), { tls: false });
          await ftp.cmd(`REST ${size + 1}`, 350);
          const r = await ftp.cmd('RETR resume-past.txt');
          assert.equal(
            r.code,
            554,
            `TYPE ${type} REST ${size + 1} → ${r.code} ${textOf(r)} (no 150 may come first)`,
          );
          assert.equal(textOf(r), 'Restart position beyond the end of the file.');
          await ftp.cmd('NOOP', 200); // the next reply is the next command's
          assert.deepEqual(conn.received, [], 'nothing sent on the data connection');
          conn.raw.destroy();
          await conn.closed;
          // At the end: nothing left to send, as ProFTPD and Pure-FTPd do.
          await ftp.cmd(`REST ${size}`, 350);
          assert.equal((await ftp.retrieve('resume-past.txt')).length, 0, `TYPE ${type} REST ${size}`);
        }
        // TYPE A past the size on disk but not past what it sends: the rest of the converted file.
        await ftp.cmd('REST 1005', 350);
        assert.equal((await ftp.retrieve('resume-past.txt')).toString(), 'xxx\r\n');
      });
    });

    test('APPE appends to an existing file and creates a missing one', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const from = server().logs.length;
        await ftp.store('log.txt', Buffer.from('one\n'));
        // The log line names the account and the file: an administrator greps for either.
        const line = await waitForLog(server(), (l) => l.msg === 'transfer', from);
        const { transfer, user, path: logged, reply } = line.obj as Record<string, unknown>;
        assert.deepEqual(
          { transfer, user, logged, reply },
          { transfer: 'STOR', user: 'alice', logged: '/log.txt', reply: 226 },
        );
        const [, done] = await ftp.store('log.txt', Buffer.from('two\n'), 'APPE');
        assert.equal(done.code, 226, textOf(done));
        assert.equal(await readFile(path.join(server().root, 'log.txt'), 'utf8'), 'one\ntwo\n');
        await ftp.store('new-log.txt', Buffer.from('first\n'), 'APPE');
        assert.equal(await readFile(path.join(server().root, 'new-log.txt'), 'utf8'), 'first\n');
        // Larger than the server's 256 KiB disk writes: every byte lands after the old ones, in order.
        const big = randomData(700_001);
        const [, more] = await ftp.store('log.txt', big, 'APPE');
        assert.equal(more.code, 226, textOf(more));
        const expected = Buffer.concat([Buffer.from('one\ntwo\n'), big]);
        assertSameBytes(await readFile(path.join(server().root, 'log.txt')), expected, 'appended');
      });
    });

    test('an upload its target refuses (no parent, a directory, a link out, REST to a missing file) gets 553 (APPE 550) before any 150; the data connection stays unused', async () => {
      const root = server().root;
      const outside = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-outside-'));
      try {
        await writeFile(path.join(outside, 'theirs.txt'), 'theirs');
        await mkdir(path.join(root, 'refuse-dir'));
        await symlink(outside, path.join(root, 'refuse-out'));
        await symlink(path.join(outside, 'theirs.txt'), path.join(root, 'refuse-out-file'));
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.cmd('TYPE I', 200);
          for (const line of [
            'STOR refuse-none/x.bin',
            'STOR refuse-dir',
            'STOR .',
            'STOR /',
            'APPE refuse-dir',
            'APPE refuse-none/x.bin',
            'STOR refuse-out/x.bin',
            'STOR refuse-out-file',
            'APPE refuse-out-file',
            'REST 5|STOR refuse-dir',
            'REST 5|STOR refuse-missing.bin',
          ]) {
            const [rest, stor] = line.includes('|') ? line.split('|') : [undefined, line];
            // As ftplib and curl do: the data connection is open (bare TCP, no TLS yet) before STOR.
            const conn = await ftp.openData(await ftp.epsv(), { tls: false });
            if (rest) await ftp.cmd(rest, 350);
            const r = await ftp.cmd(stor ?? '');
            const code = stor?.startsWith('APPE') ? 550 : 553; // RFC 959 gives STOR no 550
            assert.equal(r.code, code, `${line} → ${r.code} ${textOf(r)} (no 1xx may come first)`);
            await ftp.cmd('NOOP', 200); // the next reply is the next command's
            assert.deepEqual(conn.received, [], 'nothing sent on the data connection');
            conn.raw.destroy();
            await conn.closed;
          }
          // The REST was consumed by the refused STOR; a normal upload follows in the same session.
          const [, ok] = await ftp.store('refuse-dir/ok.bin', Buffer.from('ok'));
          assert.equal(ok.code, 226, textOf(ok));
        });
        assert.deepEqual(await readdir(outside), ['theirs.txt']);
        assert.equal(await readFile(path.join(outside, 'theirs.txt'), 'utf8'), 'theirs');
        assert.deepEqual(await readdir(path.join(root, 'refuse-dir')), ['ok.bin']);
        assert.ok(!(await readdir(root)).some((n) => n.startsWith('refuse-missing') || n === 'refuse-none'));
        assert.deepEqual(await tempFiles(root), []);
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    test('STOU stores under a new unique name given in the 150 reply', async () => {
      const body = randomData(10_000);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('MKD stou', 257);
        await ftp.cmd('CWD stou', 250);
        const [opening, done] = await ftp.store('', body, 'STOU');
        assert.equal(done.code, 226, textOf(done));
        const m = /FILE: (\S+)/.exec(textOf(opening));
        assert.ok(m?.[1], `150 names the file: ${textOf(opening)}`);
        assert.deepEqual(await readdir(path.join(server().root, 'stou')), [m[1]]);
        assertSameBytes(await readFile(path.join(server().root, 'stou', m[1])), body);
        const [second] = await ftp.store('', body, 'STOU');
        assert.notEqual(/FILE: (\S+)/.exec(textOf(second))?.[1], m[1], 'a second STOU gets another name');
      });
    });

    test('ABOR during a RETR of a 50 MB file: 426, then 226, in that order; the session goes on', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const conn = await stalledBigRetr(ftp);
        const r1 = await ftp.cmd('ABOR');
        const r2 = await ftp.expect();
        assert.deepEqual([r1.code, r2.code], [426, 226], `${textOf(r1)} / ${textOf(r2)}`);
        // Draining what is in flight, the client sees the server close the data connection.
        const got = await ftp.readAll(conn);
        await withDeadline(conn.closed, ftp.timeoutMs, 'the server to close the aborted data connection');
        assert.ok(got.length < BIG, 'the transfer was cut short');
        await ftp.cmd('NOOP', 200);
        await ftp.store('after-abor.txt', Buffer.from('ok'));
      });
    });

    test('ABOR preceded by Telnet IP and Synch (IAC IP IAC DM) is understood', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await stalledBigRetr(ftp);
        ftp.send(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
        assert.equal((await ftp.expect()).code, 426);
        assert.equal((await ftp.expect()).code, 226);
        await ftp.cmd('NOOP', 200);
      });
    });

    test('ABOR without a transfer → 225', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('ABOR', 225);
        await ftp.epsv();
        await ftp.cmd('ABOR', 225); // drops the unused passive endpoint
        await ftp.cmd('LIST', 425);
      });
    });

    test('STAT during a transfer reports it, over the control connection, while the transfer runs', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const conn = await stalledBigRetr(ftp);
        const stat = await ftp.cmd('STAT', 211);
        assert.match(textOf(stat), /RETR in progress: \d+ bytes/);
        // Let it finish: 226 and every byte.
        const all = await ftp.readAll(conn, 60_000);
        assert.equal(all.length, BIG);
        await ftp.expect(226);
      });
    });

    test('pipelined commands (several lines in one write) are answered in order', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        ftp.send(
          'NOOP\r\nSYST\r\nPWD\r\nTYPE I\r\nMKD pipelined\r\nCWD pipelined\r\nPWD\r\nXYZW\r\nCDUP\r\nNOOP',
        );
        const codes: number[] = [];
        const texts: string[] = [];
        for (let i = 0; i < 10; i++) {
          const r = await ftp.expect();
          codes.push(r.code);
          texts.push(textOf(r));
        }
        assert.deepEqual(codes, [200, 215, 257, 200, 257, 250, 257, 500, 250, 200]);
        assert.match(texts[6] ?? '', /^"\/pipelined"/);
        assert.ok(ftp.noPendingReplies);
      });
    });

    test(
      'an upload that replaces a file keeps its owner, group and mode',
      { skip: process.getuid?.() !== 0 && 'needs root (chown)' },
      async () => {
        const file = path.join(server().root, 'owned.txt');
        await writeFile(file, 'old');
        await chown(file, 1234, 2345);
        await chmod(file, 0o640);
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.store('owned.txt', Buffer.from('new content'));
        });
        const st = await stat(file);
        assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [1234, 2345, 0o640]);
        assert.equal(await readFile(file, 'utf8'), 'new content');
      },
    );

    test('TYPE A converts CRLF to LF on upload and LF to CRLF on download; TYPE I keeps bytes', async () => {
      await writeFile(path.join(server().root, 'unix.txt'), 'one\ntwo\n\nthree\n');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE A', 200);
        assert.equal((await ftp.retrieve('unix.txt')).toString(), 'one\r\ntwo\r\n\r\nthree\r\n');
        // The 150 gives no size here: the file's 15 bytes on disk are not the 19 sent.
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        assert.doesNotMatch(textOf(await ftp.cmd('RETR unix.txt', 150)), /bytes/);
        await ftp.readAll(conn);
        await ftp.expect(226);
        await ftp.store('from-net.txt', Buffer.from('alpha\r\nbeta\r\n'));
        assert.equal(await readFile(path.join(server().root, 'from-net.txt'), 'utf8'), 'alpha\nbeta\n');
        await ftp.cmd('TYPE I', 200);
        assert.equal((await ftp.retrieve('unix.txt')).toString(), 'one\ntwo\n\nthree\n');
        await ftp.store('binary.txt', Buffer.from('alpha\r\nbeta\r\n'));
        assert.equal(await readFile(path.join(server().root, 'binary.txt'), 'utf8'), 'alpha\r\nbeta\r\n');
        await ftp.cmd('TYPE X', 504);
      });
    });
  });
}
