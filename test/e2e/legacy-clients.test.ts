/**
 * What older and scripted clients send that vsftpd, ProFTPD, Pure-FTPd and FileZilla Server accept:
 * TYPE L8, CLNT, ALLO's syntax, SMNT, z/OS SITE data-set attributes, and verbs with digits (XMD5)
 * as unknown commands.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectSecure, loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

for (const mode of MODES) {
  describe(`commands of older clients (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();

    test('TYPE L8 (no space) is TYPE L 8: binary', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE A', 200);
        assert.equal(textOf(await ftp.cmd('TYPE L8', 200)), 'Type set to binary.');
        await ftp.cmd('TYPE L', 501);
      });
    });

    test("CLNT answers 200 and the client's name is logged with its session", async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CLNT Total Commander 11.0', 200);
        const line = server().logs.find((l) => l.msg === 'client');
        assert.ok(line, 'a client line');
        assert.equal((line.obj as { client?: unknown }).client, 'Total Commander 11.0');
        assert.equal(typeof (line.obj as { session?: unknown }).session, 'string', 'the session id');
      });
    });

    test('CLNT repeated before login: its name is logged 3 times at most, cut to 100 characters', async () => {
      await withClients(async (track) => {
        const ftp = track(await connectSecure(server(), mode));
        const lines = Array.from({ length: 50 }, () => 'CLNT flood');
        for (let i = 0; i < 20; i++) lines.push(`CLNT flood ${i} ${'A'.repeat(4000)}`);
        lines.push('NOOP');
        ftp.send(Buffer.from(lines.map((l) => `${l}\r\n`).join('')));
        for (let i = 0; i < lines.length; i++) await ftp.expect(200);
        assert.ok(ftp.noPendingReplies);
      });
      const logged = server()
        .logs.filter((l) => l.msg === 'client')
        .map((l) => String((l.obj as { client?: unknown }).client))
        .filter((c) => c.startsWith('flood'));
      // Once per name, 3 names at most (50 lines of one name, then 20 different long ones).
      assert.deepEqual(logged, ['flood', `flood 0 ${'A'.repeat(92)}…`, `flood 1 ${'A'.repeat(92)}…`]);
    });

    test('ALLO: a byte count (and R size) is 202, anything else 501; SMNT is 502', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('ALLO 1024', 202);
        await ftp.cmd('ALLO 1024 R 512', 202);
        await ftp.cmd('ALLO abc', 501);
        await ftp.cmd('ALLO', 501);
        await ftp.cmd('SMNT /mnt', 502);
      });
    });

    test('SITE: z/OS data-set attributes get 202 (not needed here); other unknown subcommands 500, not 504', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(
          textOf(await ftp.cmd('SITE LRECL=80 RECFM=FB', 202)),
          'SITE LRECL=80 RECFM=FB: not needed here; files are byte streams, with no data-set attributes.',
        );
        await ftp.cmd('SITE FILETYPE=SEQ', 202);
        await ftp.cmd('site tracks primary=10 secondary=5 blksize=3120', 202);
        // JES would submit the upload as a job: nothing like it here.
        await ftp.cmd('SITE FILETYPE=JES', 500);
        assert.equal(
          textOf(await ftp.cmd('SITE UMASK 022', 500)),
          'SITE UMASK not understood (SITE HELP lists the subcommands).',
        );
        await ftp.cmd('SITE IDLE 600', 500);
        await ftp.cmd('SITE LRECL=80 UMASK=022', 500);
        await ftp.cmd('NOOP', 200);
      });
    });

    test('OPTS UTF8 ON is 200; OFF is refused (504), since names stay UTF-8', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(textOf(await ftp.cmd('OPTS UTF8 ON', 200)), 'UTF8 mode is always on.');
        const off = await ftp.cmd('OPTS UTF8 OFF', 504);
        assert.equal(textOf(off), 'UTF8 cannot be turned off: names are UTF-8 (RFC 2640).');
        await ftp.cmd('opts utf8 off', 504);
        await ftp.cmd('NOOP', 200);
      });
    });

    test('HELP with a topic: 214 with its syntax, an alias named as itself, SITE subcommands too', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(textOf(await ftp.cmd('HELP PWD', 214)), 'Syntax: PWD');
        assert.equal(textOf(await ftp.cmd('HELP XPWD', 214)), 'Syntax: XPWD (alias of PWD)');
        assert.equal(textOf(await ftp.cmd('HELP xmkd', 214)), 'Syntax: XMKD <sp> path (alias of MKD)');
        const chmod = 'Syntax: SITE <sp> CHMOD <sp> mode <sp> path';
        assert.equal(textOf(await ftp.cmd('HELP SITE CHMOD', 214)), chmod);
        assert.equal(textOf(await ftp.cmd('help site  chmod', 214)), chmod);
        assert.equal(textOf(await ftp.cmd('HELP SITE HELP', 214)), 'Syntax: SITE <sp> HELP');
        assert.match(
          textOf(await ftp.cmd('HELP SITE', 214)),
          /^Syntax: SITE <sp> CHMOD .* \| SITE <sp> HELP$/,
        );
        assert.equal(textOf(await ftp.cmd('HELP SITE UTIME', 501)), 'Unknown command SITE UTIME.');
        assert.equal(textOf(await ftp.cmd('HELP RETR x', 501)), 'HELP takes one command name.');
        assert.equal(textOf(await ftp.cmd('HELP NOOP extra', 501)), 'HELP takes one command name.');
        await ftp.cmd('HELP NOSUCH', 501);
      });
    });

    test('a line ending in CR CR LF (old Mac and embedded clients) runs, its argument without the CR', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('NOOP\r', 200);
        await ftp.cmd('MKD cr-dir\r\r', 257);
        assert.match(textOf(await ftp.cmd('CWD cr-dir\r', 250)), /"?\/cr-dir"?/);
        await ftp.cmd('PWD', 257);
      });
    });

    test('verbs with digits are unknown commands like the rest; garbage stays a syntax error', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const verb of ['XMD5', 'XSHA1', 'XSHA256', 'XCRC']) {
          assert.equal(textOf(await ftp.cmd(`${verb} a.txt`, 500)), `Unknown command ${verb}.`);
        }
        // README: a verb is 3 to 8 letters and digits; a shorter word (X) is a syntax error too.
        for (const line of ['5XYZ a', 'RE-TR a', '!!!!', 'X', 'AB c']) {
          assert.equal(textOf(await ftp.cmd(line, 500)), 'Syntax error, command unrecognized.', line);
        }
        await ftp.cmd('NOOP', 200);
      });
    });
  });
}
