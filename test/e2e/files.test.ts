/**
 * File and directory commands over explicit and implicit FTPS, with their reply codes and their
 * effect on disk: MKD RMD DELE RNFR/RNTO SIZE MDTM MFMT SITE CHMOD CWD CDUP PWD, and STAT over control.
 */
import assert from 'node:assert/strict';
import { access, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { formatTimeVal, parseListLine } from '../../src/protocol/listing.js';
import { loggedIn, MODES, storeAll, textOf, useFerry, withClients } from './harness.js';

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

for (const mode of MODES) {
  describe(`file commands (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();

    test('PWD, MKD, CWD, CDUP, with quoting of names in 257 replies', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
        assert.match(textOf(await ftp.cmd('MKD dir one', 257)), /^"\/dir one" /);
        assert.ok((await stat(path.join(server().root, 'dir one'))).isDirectory());
        await ftp.cmd('MKD dir one', 550); // exists
        await ftp.cmd('MKD', 501);
        assert.match(textOf(await ftp.cmd('MKD say "hi"', 257)), /^"\/say ""hi""" /, 'quotes doubled');
        await ftp.cmd('CWD dir one', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/dir one" /);
        assert.match(textOf(await ftp.cmd('MKD nested', 257)), /^"\/dir one\/nested" /);
        await ftp.cmd('CWD nested', 250);
        await ftp.cmd('CDUP', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/dir one" /);
        await ftp.cmd('XCUP', 250);
        assert.match(textOf(await ftp.cmd('XPWD', 257)), /^"\/" /);
        await ftp.cmd('CWD /dir one/nested', 250);
        await ftp.cmd('CWD', 250); // no argument: back to /
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
        await ftp.cmd('CWD say "hi"', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/say ""hi""" /);
        await ftp.cmd('CWD /no-such-dir', 550);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/say ""hi""" /, 'a failed CWD changes nothing');
      });
    });

    test('CWD to a file → 550', async () => {
      await writeFile(path.join(server().root, 'a-file.txt'), 'x');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD a-file.txt', 550);
      });
    });

    test('SIZE and MDTM of a file; 550 for a directory or a missing file', async () => {
      const mtime = new Date(Date.UTC(2023, 5, 7, 8, 9, 10));
      const file = path.join(server().root, 'sized.bin');
      await writeFile(file, Buffer.alloc(12_345, 1));
      await utimes(file, mtime, mtime);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        assert.equal(textOf(await ftp.cmd('SIZE sized.bin', 213)), '12345');
        assert.equal(textOf(await ftp.cmd('MDTM sized.bin', 213)), '20230607080910');
        await ftp.cmd('MKD size-dir', 257);
        await ftp.cmd('SIZE size-dir', 550);
        await ftp.cmd('SIZE missing.bin', 550);
        await ftp.cmd('MDTM missing.bin', 550);
        await ftp.cmd('SIZE', 501);
      });
    });

    test('SIZE under TYPE A is the count a RETR sends (each bare LF becomes CRLF), RFC 3659 4.1', async () => {
      await writeFile(path.join(server().root, 'text.txt'), 'one\ntwo\r\nthree\n'); // 15 bytes, 2 bare LFs
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE A', 200);
        assert.equal(textOf(await ftp.cmd('SIZE text.txt', 213)), '17');
        await ftp.cmd('TYPE I', 200);
        assert.equal(textOf(await ftp.cmd('SIZE text.txt', 213)), '15');
      });
    });

    test('TYPE A: REST counts bytes as sent, as SIZE does: a download restarted anywhere ends as the whole one', async () => {
      // Bare LFs (each sent as CRLF), a CRLF, a lone CR, and a file ending in a bare LF.
      const text = 'a\nb\r\nc\rd\n\nend\n';
      await writeFile(path.join(server().root, 'resume.txt'), text);
      const sent = text.replace(/\r?\n/g, '\r\n');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE A', 200);
        assert.equal(textOf(await ftp.cmd('SIZE resume.txt', 213)), String(sent.length));
        for (let at = 0; at <= sent.length; at++) {
          await ftp.cmd('TYPE A', 200);
          const port = await ftp.epsv();
          const conn = await ftp.openData(port, { tls: ftp.dataTls });
          await ftp.cmd(`REST ${at}`, 350);
          await ftp.cmd('RETR resume.txt', 150);
          const got = (await ftp.readAll(conn)).toString('latin1');
          await ftp.expect(226);
          assert.equal(got, sent.slice(at), `REST ${at}`);
        }
        // An upload restarted under TYPE A is refused: where it goes in the stored file is unknown.
        await ftp.cmd('REST 3', 350);
        assert.match(textOf(await ftp.cmd('STOR resume.txt', 501)), /TYPE I/);
        assert.equal(await readFile(path.join(server().root, 'resume.txt'), 'utf8'), text);
      });
    });

    test('TYPE A: the 350 to REST invites RETR only, STOR and APPE after it are refused naming TYPE I, which resumes them', async () => {
      const file = path.join(server().root, 'ascii-rest.txt');
      await writeFile(file, 'abc\n');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE A', 200);
        const invited = textOf(await ftp.cmd('REST 4', 350));
        assert.equal(invited, 'Restarting at 4. Send RETR (STOR and APPE restart in TYPE I only).');
        for (const verb of ['STOR', 'APPE']) {
          if (verb === 'APPE') await ftp.cmd('REST 4', 350);
          const refused = await storeAll(ftp, `${verb} ascii-rest.txt`, Buffer.from('def\r\n'));
          assert.equal(refused.code, 501, `${verb}: ${textOf(refused)}`);
          assert.equal(
            textOf(refused),
            `${verb} cannot restart in TYPE A (ASCII): send TYPE I, then REST and ${verb} again.`,
          );
        }
        assert.equal(await readFile(file, 'utf8'), 'abc\n', 'untouched');
        // REST 0 restarts nothing: the usual 350, and an upload from the start goes on.
        assert.equal(textOf(await ftp.cmd('REST 0', 350)), 'Restarting at 0. Send STOR or RETR.');
        // What the 501 says to do: TYPE I, REST, STOR resumes.
        await ftp.cmd('TYPE I', 200);
        assert.equal(textOf(await ftp.cmd('REST 4', 350)), 'Restarting at 4. Send STOR or RETR.');
        assert.equal((await storeAll(ftp, 'STOR ascii-rest.txt', Buffer.from('def\n'))).code, 226);
        assert.equal(await readFile(file, 'utf8'), 'abc\ndef\n');
      });
    });

    test('MFMT sets the modification time (213 Modify=…), MDTM then reports it', async () => {
      await writeFile(path.join(server().root, 'touch me.txt'), 'x');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const r = await ftp.cmd('MFMT 20200102030405 touch me.txt', 213);
        assert.match(textOf(r), /^Modify=20200102030405; touch me\.txt$/);
        assert.equal(textOf(await ftp.cmd('MDTM touch me.txt', 213)), '20200102030405');
        const st = await stat(path.join(server().root, 'touch me.txt'));
        assert.equal(formatTimeVal(st.mtime), '20200102030405');
        await ftp.cmd('MFMT 2020 touch me.txt', 501);
        await ftp.cmd('MFMT 20201340000000 touch me.txt', 501);
        await ftp.cmd('MFMT 20200102030405 missing.txt', 550);
      });
    });

    test('MFMT replies with the time the file got, where the filesystem cannot store the one asked for', async () => {
      const file = path.join(server().root, 'far future.txt');
      await writeFile(file, 'x');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const r = await ftp.cmd('MFMT 99991231235959 far future.txt', 213);
        const stored = formatTimeVal((await stat(file)).mtime); // ext4: 2446; a filesystem with 64-bit times: 9999
        assert.equal(textOf(r), `Modify=${stored}; far future.txt`);
        assert.equal(textOf(await ftp.cmd('MDTM far future.txt', 213)), stored);
      });
    });

    test("MDTM's set-form (vsftpd, Total Commander) sets the time as MFMT does; a digits-named file is read, never set", async () => {
      await writeFile(path.join(server().root, 'set by mdtm.txt'), 'x');
      await writeFile(path.join(server().root, '20200101120000 odd.txt'), 'x');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const r = await ftp.cmd('MDTM 20200101120000 set by mdtm.txt', 213);
        assert.equal(textOf(r), 'Modify=20200101120000; set by mdtm.txt');
        const st = await stat(path.join(server().root, 'set by mdtm.txt'));
        assert.equal(formatTimeVal(st.mtime), '20200101120000');
        assert.equal(textOf(await ftp.cmd('MDTM set by mdtm.txt', 213)), '20200101120000');
        await ftp.cmd('MDTM 20201340000000 set by mdtm.txt', 501); // validated as MFMT's
        await ftp.cmd('MDTM 20200101120000 missing.txt', 550);
        // A name that looks like the set-form is read, as curl -R and lftp ask for it, and no other
        // file is touched: `odd.txt` beside it keeps its time (it was set to 2020 by this question).
        await writeFile(path.join(server().root, 'odd.txt'), 'y');
        await utimes(path.join(server().root, 'odd.txt'), new Date('2017-05-05Z'), new Date('2017-05-05Z'));
        const before = formatTimeVal((await stat(path.join(server().root, '20200101120000 odd.txt'))).mtime);
        assert.equal(textOf(await ftp.cmd('MDTM 20200101120000 odd.txt', 213)), before);
        assert.equal(textOf(await ftp.cmd('MDTM ./20200101120000 odd.txt', 213)), before);
        assert.equal(
          formatTimeVal((await stat(path.join(server().root, 'odd.txt'))).mtime),
          '20170505000000',
        );
      });
    });

    test('SITE CHMOD sets permission bits, never setuid/setgid/sticky, and says so', async () => {
      const file = path.join(server().root, 'mode.txt');
      const dir = path.join(server().root, 'mode-dir');
      await writeFile(file, 'x');
      await mkdir(dir);
      const dropped = (m: string): string =>
        `SITE CHMOD: mode set to ${m}; setuid, setgid and sticky bits are not set by this server.`;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(textOf(await ftp.cmd('SITE CHMOD 640 mode.txt', 200)), 'SITE CHMOD successful.');
        assert.equal((await stat(file)).mode & 0o7777, 0o640);
        assert.equal(textOf(await ftp.cmd('SITE CHMOD 4755 mode.txt', 200)), dropped('0755'));
        assert.equal((await stat(file)).mode & 0o7777, 0o755, 'setuid bit dropped');
        assert.equal(textOf(await ftp.cmd('SITE CHMOD 1777 mode-dir', 200)), dropped('0777'));
        assert.equal((await stat(dir)).mode & 0o7777, 0o777, 'sticky bit dropped');
        assert.equal(textOf(await ftp.cmd('SITE CHMOD 0755 mode-dir', 200)), 'SITE CHMOD successful.');
        await ftp.cmd('SITE CHMOD xyz mode.txt', 501);
        await ftp.cmd('SITE CHMOD 644', 501);
        await ftp.cmd('SITE CHMOD 644 missing.txt', 550);
        await ftp.cmd('SITE HELP', 214);
        await ftp.cmd('SITE EXEC ls', 500);
      });
    });

    test('RNFR/RNTO rename files and directories; RNTO without RNFR → 503; missing source → 550', async () => {
      await writeFile(path.join(server().root, 'old name.txt'), 'rename me');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('RNFR old name.txt', 350);
        await ftp.cmd('RNTO new name.txt', 250);
        assert.ok(!(await exists(path.join(server().root, 'old name.txt'))));
        assert.ok(await exists(path.join(server().root, 'new name.txt')));
        await ftp.cmd('RNTO again.txt', 503); // the RNFR was used up
        await ftp.cmd('RNFR missing.txt', 550);
        await ftp.cmd('RNFR /', 550); // at once, not at RNTO
        await ftp.cmd('RNFR ..', 550); // the root too, seen from /
        await ftp.cmd('MKD rename-dir', 257);
        await ftp.cmd('RNFR rename-dir', 350);
        await ftp.cmd('RNTO renamed-dir', 250);
        assert.ok((await stat(path.join(server().root, 'renamed-dir'))).isDirectory());
        await ftp.cmd('RNFR new name.txt', 350);
        await ftp.cmd('RNTO renamed-dir/moved.txt', 250);
        assert.deepEqual(await readdir(path.join(server().root, 'renamed-dir')), ['moved.txt']);
        await ftp.cmd('RNFR renamed-dir', 350);
        const intoItself = await ftp.cmd('RNTO renamed-dir/inside-itself', 550);
        assert.equal(textOf(intoItself), 'Cannot move a directory into itself.');
      });
    });

    test('~ and ~/… at the start of a path name the home for every command, unless the cwd holds an entry named ~', async () => {
      const root = server().root;
      await mkdir(path.join(root, 'tilde', 'deep'), { recursive: true });
      await writeFile(path.join(root, 'tilde', 'at-home.txt'), 'home');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD tilde/deep', 250);
        assert.equal(textOf(await ftp.cmd('CWD ~', 250)), 'Directory changed to /.');
        await ftp.cmd('CWD ~/tilde/deep', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/tilde\/deep" /);
        assert.equal(textOf(await ftp.cmd('SIZE ~/tilde/at-home.txt', 213)), '4');
        await ftp.cmd('TYPE I', 200);
        assert.equal((await ftp.retrieve('~/tilde/at-home.txt')).toString(), 'home');
        await ftp.store('~/tilde/up.txt', Buffer.from('up'));
        assert.equal(await readFile(path.join(root, 'tilde', 'up.txt'), 'utf8'), 'up');
        await ftp.cmd('MKD ~/tilde/made', 257);
        await ftp.cmd('RNFR ~/tilde/up.txt', 350);
        await ftp.cmd('RNTO ~/tilde/made/up.txt', 250);
        await ftp.cmd('DELE ~/tilde/made/up.txt', 250);
        await ftp.cmd('RMD ~/tilde/made', 250);
        assert.deepEqual((await readdir(path.join(root, 'tilde'))).sort(), ['at-home.txt', 'deep']);
        assert.match(await ftp.listing('NLST', '~/tilde'), /at-home\.txt/);
        // `~user` is a plain name (no user names to probe).
        await ftp.cmd('CWD ~nobody', 550);
        // An entry named ~ in the cwd is that entry (a GUI client sends the names it listed).
        await mkdir(path.join(root, 'tilde', 'deep', '~'));
        await writeFile(path.join(root, 'tilde', 'deep', '~', 'in.txt'), 'literal');
        assert.equal(textOf(await ftp.cmd('SIZE ~/in.txt', 213)), '7');
        assert.equal(textOf(await ftp.cmd('CWD ~', 250)), 'Directory changed to /tilde/deep/~.');
        await ftp.cmd('CWD /', 250);
        assert.equal(textOf(await ftp.cmd('CWD ~', 250)), 'Directory changed to /.');
      });
    });

    test('RNTO onto a directory replaces it when it is empty (as rename(2)); never a file for a directory', async () => {
      const root = server().root;
      for (const d of ['d1', 'd2', 'd3']) await mkdir(path.join(root, d));
      await writeFile(path.join(root, 'd1', 'x'), 'x');
      await writeFile(path.join(root, 'd3', 'y'), 'y');
      await writeFile(path.join(root, 'f.txt'), 'f');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('RNFR d1', 350);
        await ftp.cmd('RNTO d2', 250); // d2 was empty
        assert.deepEqual(await readdir(path.join(root, 'd2')), ['x']);
        assert.ok(!(await exists(path.join(root, 'd1'))));
        await ftp.cmd('RNFR d3', 350);
        await ftp.cmd('RNTO d2', 550); // not empty: both stay as they were
        assert.deepEqual(await readdir(path.join(root, 'd3')), ['y']);
        assert.deepEqual(await readdir(path.join(root, 'd2')), ['x']);
        await ftp.cmd('RNFR f.txt', 350);
        assert.equal(textOf(await ftp.cmd('RNTO d3', 550)), 'File exists.');
        await ftp.cmd('RNFR d3', 350);
        assert.equal(textOf(await ftp.cmd('RNTO f.txt', 550)), 'File exists.');
        assert.equal(await readFile(path.join(root, 'f.txt'), 'utf8'), 'f');
      });
    });

    test('DELE and RMD with their refusals (missing, wrong type, not empty)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('MKD full', 257);
        await ftp.cmd('TYPE I', 200);
        await ftp.store('full/file.txt', Buffer.from('x'));
        await ftp.cmd('RMD full', 550); // not empty
        await ftp.cmd('DELE full', 550); // a directory
        await ftp.cmd('RMD full/file.txt', 550); // a file
        await ftp.cmd('DELE full/file.txt', 250);
        assert.ok(!(await exists(path.join(server().root, 'full', 'file.txt'))));
        await ftp.cmd('DELE full/file.txt', 550); // gone
        await ftp.cmd('RMD full', 250);
        assert.ok(!(await exists(path.join(server().root, 'full'))));
        await ftp.cmd('RMD full', 550);
        await ftp.cmd('RMD /', 550);
        await ftp.cmd('DELE', 501);
      });
    });

    test('STAT over the control connection: server status, a file, a directory', async () => {
      await writeFile(path.join(server().root, 'stat me.txt'), 'twelve bytes');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const status = textOf(await ftp.cmd('STAT', 211));
        assert.match(status, /Logged in as alice/);
        assert.match(status, /Control connection: TLS/);
        const file = await ftp.cmd('STAT stat me.txt', 213);
        assert.equal(file.lines.length, 3, textOf(file));
        const entry = parseListLine(file.lines[1] ?? '');
        assert.equal(entry?.name, 'stat me.txt');
        assert.equal(entry?.size, 12);
        await ftp.cmd('MKD stat-dir', 257);
        await writeFile(path.join(server().root, 'stat-dir', 'one.txt'), '1');
        await writeFile(path.join(server().root, 'stat-dir', 'two.txt'), '22');
        const dir = await ftp.cmd('STAT stat-dir', 212);
        const names = dir.lines
          .slice(1, -1)
          .map((l) => parseListLine(l)?.name)
          .sort();
        assert.deepEqual(names, ['one.txt', 'two.txt']);
        await ftp.cmd('STAT no-such-thing', 550);
      });
    });
  });
}
