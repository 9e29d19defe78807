/**
 * Hostile or broken input over explicit and implicit FTPS: over-long lines, binary garbage,
 * commands before login, path traversal (including a symlink out of the root), garbage instead of a
 * TLS ClientHello. After all of it, a normal session still works.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import { RawFtp, socketClosed, waitEvent, withDeadline } from '../support/raw-ftp.js';
import {
  assertNoHostPath,
  assertSameBytes,
  connectSecure,
  loggedIn,
  MODES,
  randomData,
  textOf,
  useFerry,
  withClients,
  type Mode,
} from './harness.js';

/** A reply text a human can read: printable ASCII, no echo of raw garbage. */
function assertClearText(text: string): void {
  assert.match(text, /^[\x20-\x7e]+$/, `reply text is not clean: ${JSON.stringify(text)}`);
}

/**
 * Connects raw TCP, sends `bytes` (then FIN with `end`), and waits for the server to close; returns
 * what the server sent.
 */
async function garbageConnection(port: number, bytes: Buffer, end = false): Promise<Buffer> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  const received: Buffer[] = [];
  s.on('data', (d: Buffer) => received.push(d));
  try {
    await waitEvent(s, 'connect');
    s.write(bytes);
    if (end) s.end();
    await withDeadline(socketClosed(s), 10_000, 'the server to close the connection');
  } finally {
    s.destroy();
    await socketClosed(s);
  }
  return Buffer.concat(received);
}

async function normalSession(ts: TestServer, mode: Mode): Promise<void> {
  const body = randomData(64 * 1024);
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, mode));
    await ftp.cmd('TYPE I', 200);
    const [, done] = await ftp.store(`normal-${mode}.bin`, body);
    assert.equal(done.code, 226, textOf(done));
    assertSameBytes(await ftp.retrieve(`normal-${mode}.bin`), body);
    await ftp.quit();
  });
}

for (const mode of MODES) {
  describe(`bad input (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();
    let outside: string;
    before(async () => {
      const { root } = server();
      // Outside the root: a directory with a secret, and links to it from inside the root.
      outside = await mkdtemp(path.join(os.tmpdir(), 'ferry-outside-'));
      await writeFile(path.join(outside, 'secret.txt'), 'OUTSIDE-SECRET');
      await symlink(outside, path.join(root, 'escape'));
      await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link'));
      await mkdir(path.join(root, 'sub'));
      await writeFile(path.join(root, 'sub', 'inside.txt'), 'inside');
    });
    after(async () => {
      await rm(outside, { recursive: true, force: true });
    });

    test('a 100 KB line without CRLF → 500 "too long" at once; the session still works', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        ftp.send(Buffer.alloc(100 * 1024, 0x41));
        const r = await ftp.expect(500);
        assert.match(textOf(r), /too long/i);
        ftp.send(Buffer.from('\r\n')); // ends the over-long line
        await ftp.cmd('NOOP', 200);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/"/);
        assert.ok(ftp.noPendingReplies, 'exactly one reply for the long line');
      });
    });

    test('binary garbage lines get clear 500 replies, one per line; the session still works', async () => {
      const lines = [
        Buffer.from([0x00, 0x01, 0x02, 0x03]),
        Buffer.from([0x80, 0x81, 0xfe, 0xc3, 0x28]),
        Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
        Buffer.from(''),
        Buffer.from('XYZW foo'),
        Buffer.from('ABCDEFGHIJKLMNOP'),
        Buffer.from('\t\t\t'),
        Buffer.from('GET / HTTP/1.1'),
      ];
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        ftp.send(Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')])));
        for (const l of lines) {
          const r = await ftp.expect();
          assert.equal(r.code, 500, `${JSON.stringify(l.toString('latin1'))} → ${r.code} ${textOf(r)}`);
          assertClearText(textOf(r));
        }
        await ftp.cmd('NOOP', 200);
        await ftp.cmd('TYPE I', 200);
        assert.equal((await ftp.retrieve('sub/inside.txt')).toString(), 'inside');
      });
    });

    test('a command line that is not UTF-8 is refused whole (501), nothing done; names are never merged', async () => {
      const dir = path.join(server().root, 'latin1');
      await mkdir(dir);
      const latin1 = (line: string): Buffer => Buffer.from(`${line}\r\n`, 'latin1');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('CWD latin1', 250);
        // 'résumé' and 'rèsumè' in Latin-1: decoded with U+FFFD they would name one file.
        for (const name of ['r\xe9sum\xe9.txt', 'r\xe8sum\xe8.txt']) {
          // As a client does: the data connection is ready before STOR; it stays unused.
          const conn = await ftp.openData(await ftp.epsv(), { tls: false });
          ftp.send(latin1(`STOR ${name}`));
          const r = await ftp.expect();
          assert.equal(r.code, 501, `STOR → ${r.code} ${textOf(r)}`);
          assert.match(textOf(r), /UTF-8/);
          assertClearText(textOf(r));
          conn.raw.destroy();
          await conn.closed;
        }
        for (const line of [
          'MKD r\xe9sum\xe9',
          'MKD r\xe8sum\xe8',
          'APPE \xff',
          'CWD caf\xe9',
          'DELE caf\xe9',
        ]) {
          ftp.send(latin1(line));
          const r = await ftp.expect();
          assert.equal(r.code, 501, `${JSON.stringify(line)} → ${r.code} ${textOf(r)}`);
        }
        await ftp.cmd('RNFR /sub/inside.txt', 350);
        ftp.send(latin1('RNTO /latin1/caf\xe9.txt'));
        await ftp.expect(501);
        await ftp.cmd('RNTO /elsewhere', 503); // the RNFR was used up by the refused RNTO
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/latin1" /, 'CWD changed nothing');
        // The same names in UTF-8 are two files.
        for (const name of ['résumé.txt', 'rèsumè.txt']) {
          const [, done] = await ftp.store(name, Buffer.from(name));
          assert.equal(done.code, 226, textOf(done));
        }
        assert.ok(ftp.noPendingReplies);
      });
      assert.deepEqual((await readdir(dir)).sort(), ['rèsumè.txt', 'résumé.txt']);
      assert.equal(await readFile(path.join(dir, 'résumé.txt'), 'utf8'), 'résumé.txt');
      assert.equal(await readFile(path.join(server().root, 'sub', 'inside.txt'), 'utf8'), 'inside');
    });

    test('a 0xFF byte (Telnet IAC) inside a name is kept: 501, never the name without it', async () => {
      const dir = path.join(server().root, 'iac');
      await mkdir(dir);
      await writeFile(path.join(dir, 'victim.txt'), 'KEEP-ME');
      const raw = (line: string): Buffer => Buffer.from(`${line}\r\n`, 'latin1');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('CWD iac', 250);
        // A stray IAC, IAC IAC (RFC 959's escaped 0xFF) and Telnet commands (IP, NOP, DM, WILL x)
        // after the verb: stripped, each would leave a name that is valid UTF-8 and exists.
        const names = ['victim\xff.txt', 'victim\xff\xff.txt', 'victim\xff\xf4.txt', 'victim\xff\xf1.txt'];
        names.push('victim\xff\xf4\xff\xf2.txt', 'victim\xff\xfbx.txt', 'victim.txt\xff');
        for (const name of names) {
          for (const verb of ['SIZE', 'MDTM', 'DELE', 'RNFR']) {
            ftp.send(raw(`${verb} ${name}`));
            const r = await ftp.expect();
            assert.equal(r.code, 501, `${verb} ${JSON.stringify(name)} → ${r.code} ${textOf(r)}`);
            assertClearText(textOf(r));
          }
          const conn = await ftp.openData(await ftp.epsv(), { tls: false });
          ftp.send(raw(`STOR ${name}`));
          const r = await ftp.expect();
          assert.equal(r.code, 501, `STOR ${JSON.stringify(name)} → ${r.code} ${textOf(r)}`);
          conn.raw.destroy();
          await conn.closed;
        }
        // Telnet commands before the verb are still taken away (IP and Synch before ABOR).
        ftp.send(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), raw('SIZE victim.txt')]));
        assert.match(textOf(await ftp.expect(213)), /^7$/);
        assert.ok(ftp.noPendingReplies);
      });
      assert.deepEqual(await readdir(dir), ['victim.txt']);
      assert.equal(await readFile(path.join(dir, 'victim.txt'), 'utf8'), 'KEEP-ME');
    });

    test('commands that need a login → 530 before login', async () => {
      await withClients(async (track) => {
        const ftp = track(await connectSecure(server(), mode));
        for (const line of [
          'PWD',
          'CWD /',
          'CDUP',
          'LIST',
          'NLST',
          'MLSD',
          'MLST /',
          'RETR sub/inside.txt',
          'STOR x',
          'APPE x',
          'STOU',
          'DELE sub/inside.txt',
          'MKD d',
          'RMD sub',
          'RNFR sub/inside.txt',
          'SIZE sub/inside.txt',
          'MDTM sub/inside.txt',
          'MFMT 20200101000000 sub/inside.txt',
          'SITE CHMOD 777 sub',
          'PASV',
          'EPSV',
          'PORT 127,0,0,1,200,0',
          'TYPE I',
          'REST 10',
        ]) {
          const r = await ftp.cmd(line);
          assert.equal(r.code, 530, `${line} → ${r.code} ${textOf(r)}`);
        }
        await ftp.cmd('PASS secret', 503); // PASS without USER
        await ftp.cmd(`USER ${server().user}`, 331);
        const bad = await ftp.cmd('PASS wrong', 530);
        assertClearText(textOf(bad));
        await ftp.login(server().user, server().password);
        await ftp.cmd('PWD', 257);
      });
      assert.equal(await readFile(path.join(server().root, 'sub', 'inside.txt'), 'utf8'), 'inside');
    });

    test('traversal attempts stay inside the root and replies show no host path', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const check = async (line: string, codes: number[]): Promise<void> => {
          const r = await ftp.cmd(line);
          assert.ok(codes.includes(r.code), `${line} → ${r.code} ${textOf(r)}`);
          assertNoHostPath(r, server(), outside);
        };
        await check('CWD ..', [250]);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /, 'CWD .. at the root stays at /');
        await check('CWD ../../..', [250]);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
        await check('CDUP', [250]);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
        await check('RETR ../../etc/passwd', [550]);
        await check('RETR /etc/passwd', [550]);
        await check('RETR ../../../../../../etc/passwd', [550]);
        await check('RETR ..\\..\\x', [550]);
        await check('RETR sub\\..\\..\\etc\\passwd', [550]);
        await check('SIZE /etc/passwd', [550]);
        await check('CWD /etc', [550]);
        // A symlink inside the root pointing outside of it is never followed.
        await check('RETR escape/secret.txt', [550]);
        await check('RETR secret-link', [550]);
        await check('SIZE secret-link', [550]);
        await check('CWD escape', [550]);
        await check('LIST escape', [550]);
        await check('MLST escape/secret.txt', [550]);
        // An upload through the link is refused too, with a data connection ready as a client has:
        // before any 150, the data connection unused (the client closes it).
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        const r = await ftp.cmd('STOR escape/planted.txt');
        assert.ok(r.code === 550 || r.code === 553, `STOR through the link → ${r.code} ${textOf(r)}`);
        assertNoHostPath(r, server(), outside);
        conn.stream.end();
        await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
        await check('MKD escape/planted-dir', [550, 553]);
        await check('DELE escape/secret.txt', [550]);
        await check('RNFR escape/secret.txt', [550]);
        await check('SITE CHMOD 777 escape/secret.txt', [550]);
        await check('RETR sub/../../escape/secret.txt', [550]);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
      });
      assert.deepEqual((await readdir(outside)).sort(), ['secret.txt'], 'nothing created outside');
      assert.equal(await readFile(path.join(outside, 'secret.txt'), 'utf8'), 'OUTSIDE-SECRET');
    });

    test('a refused name (backslash) is 553 only where a name is created (RFC 959), else 550', async () => {
      await writeFile(path.join(server().root, 'renamable.txt'), 'x');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const verb of ['CWD', 'DELE', 'RMD', 'RNFR', 'SIZE', 'RETR', 'MDTM', 'MLST', 'HASH']) {
          const r = await ftp.cmd(`${verb} a\\b`);
          assert.deepEqual([r.code, textOf(r)], [550, 'File name not allowed.'], verb);
        }
        await ftp.cmd('STOR a\\b', 553);
        await ftp.cmd('APPE a\\b', 553);
        await ftp.cmd('MKD a\\b', 550); // RFC 959 gives MKD 550 only
        await ftp.cmd('RNFR renamable.txt', 350);
        await ftp.cmd('RNTO a\\b', 553);
      });
      assert.equal(await readFile(path.join(server().root, 'renamable.txt'), 'utf8'), 'x', 'not renamed');
    });

    test('names with control characters are refused (553 where created) and left out of listings', async () => {
      // The reported MKD (ESC and a colour sequence, SOH, DEL), a TAB, a C1 CSI (U+009B).
      const names = ['x\x01\x1b[31my\x7f', 'tab\there', 'csi\u009b31m'];
      const dir = path.join(server().root, 'controls');
      await mkdir(dir);
      await writeFile(path.join(dir, 'plain.txt'), 'x');
      // Made on disk behind Ferry's back: a listing must not carry them to the client's terminal.
      for (const name of names) await writeFile(path.join(dir, name), 'x');
      await mkdir(path.join(dir, 'dir\x1b]0;title\x07'));
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD controls', 250);
        for (const name of names) {
          for (const [verb, code] of [
            ['MKD', 550],
            ['STOR', 553],
            ['APPE', 553],
          ] as const) {
            const r = await ftp.cmd(`${verb} new-${name}`);
            assert.deepEqual([r.code, textOf(r)], [code, 'File name not allowed.'], verb);
          }
          await ftp.cmd('RNFR plain.txt', 350);
          await ftp.cmd(`RNTO new-${name}`, 553);
          for (const verb of ['CWD', 'DELE', 'RETR', 'SIZE']) await ftp.cmd(`${verb} ${name}`, 550);
        }
        // Any control character but the line ends (CRLF in listings, LF between reply lines).
        const controls = /[^\P{Cc}\r\n]/u;
        const bodies: [string, string][] = [
          ['LIST', await ftp.listing('LIST')],
          ['NLST', await ftp.listing('NLST')],
          ['MLSD', await ftp.listing('MLSD')],
          ['STAT', textOf(await ftp.cmd('STAT .', 212))],
        ];
        for (const [verb, body] of bodies) {
          assert.match(body, /plain\.txt/, verb);
          assert.ok(!controls.test(body), `${verb}: ${JSON.stringify(body)}`);
        }
      });
      const left = await readdir(dir);
      assert.equal(left.length, names.length + 2, `nothing created or renamed: ${JSON.stringify(left)}`);
    });

    test('a listing of the root shows the escaping link without revealing its target', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const list = await ftp.listing('LIST');
        assert.match(list, /escape/);
        assert.ok(!list.includes(outside), `LIST leaks a host path: ${list}`);
        const mlsd = await ftp.listing('MLSD');
        assert.ok(!mlsd.includes(outside), `MLSD leaks a host path: ${mlsd}`);
      });
    });

    test('after all the bad input, a normal session works (login, upload, download)', async () => {
      await normalSession(server(), mode);
    });
  });
}

describe('bad input before TLS', { timeout: 60_000 }, () => {
  const server = useFerry();

  test('garbage instead of a ClientHello on the implicit port: closed without a plaintext word', async () => {
    for (const bytes of [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from('USER alice\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]),
    ]) {
      const got = await garbageConnection(server().implicitPort, bytes);
      const text = got.toString('latin1');
      assert.ok(!/\d{3}[ -]/.test(text), `plaintext reply on the implicit port: ${JSON.stringify(text)}`);
      // At most a TLS alert record.
      if (got.length > 0) assert.equal(got[0], 0x15, `unexpected bytes: ${got.toString('hex')}`);
    }
    await normalSession(server(), 'implicit');
  });

  test('garbage after AUTH TLS 234 on the explicit port: connection closed, server still serves', async () => {
    await withClients(async (track) => {
      const ftp = track(
        await RawFtp.connect({ host: server().host, port: server().explicitPort, implicit: false }),
      );
      await ftp.expect(220);
      await ftp.cmd('AUTH TLS', 234);
      ftp.send(Buffer.from('this is not a ClientHello\r\n'));
      await withDeadline(ftp.closed, ftp.timeoutMs, 'the server to close the connection');
    });
    await normalSession(server(), 'explicit');
    await normalSession(server(), 'implicit');
  });

  test('a client that connects to the implicit port and leaves at once does not disturb the server', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await garbageConnection(server().implicitPort, Buffer.alloc(0), true)).length, 0);
    }
    await normalSession(server(), 'implicit');
  });
});
