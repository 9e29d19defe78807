/**
 * Names that are not UTF-8 (a Latin-1 `l\xe9tin.txt`) on a server without UTF8 in FEAT, as vsftpd
 * and ProFTPD serve them: `ferry ls` shows them escaped (it showed U+FFFD), `ferry get` by a `%E9`
 * URL fetches them (the URL was refused), `ferry mirror` fetches them under the same bytes locally
 * (RETR went out with the UTF-8 of U+FFFD: 550), and a second mirror finds them unchanged. A
 * scripted plain-FTP server (Ferry's own refuses such names) compares names byte for byte (not
 * support/fake-ftp.ts: it reads command lines as UTF-8 and has no directories or LIST).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry, type CliResult } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Names and contents as latin1 strings: one character per byte, whatever the bytes are. */
const LATIN = 'l\xe9tin.txt';
const UTF8 = Buffer.from('ünï.txt', 'utf8').toString('latin1');
const FILES: ReadonlyMap<string, string> = new Map([
  [`/sp/${LATIN}`, 'latin-1 named\n'],
  [`/sp/${UTF8}`, 'utf-8 named\n'],
  ['/sp/plain.txt', 'plain\n'],
  // A hostile server's name with a terminal escape (clear screen): shown escaped, never sent raw.
  ['/esc/x\x1b[2Jy.txt', 'escape\n'],
]);

/**
 * A plain-FTP server over FILES: no FEAT features (no UTF8), LIST in Unix form, EPSV, RETR. It
 * reads command lines as latin1 (byte for byte), so `commands` holds them as latin1 strings.
 */
class ByteServer extends ScriptedServer {
  protected session(sock: net.Socket): void {
    const reply = (text: string): boolean => sock.write(Buffer.from(`${text}\r\n`, 'latin1'));
    let cwd = '/';
    let data: Promise<net.Socket> | undefined;
    const resolve = (arg: string): string => {
      const parts = (arg.startsWith('/') ? arg : `${cwd}/${arg}`).split('/').filter((p) => p !== '');
      return `/${parts.join('/')}`;
    };
    const isDir = (p: string): boolean => p === '/' || [...FILES.keys()].some((f) => f.startsWith(`${p}/`));
    const send = async (text: string): Promise<void> => {
      const d = data;
      data = undefined;
      if (!d) return void reply('425 No data connection.');
      reply('150 Here it comes.');
      const s = await d;
      s.end(Buffer.from(text, 'latin1'));
      await once(s, 'close');
      reply('226 Transfer complete.');
    };
    reply('220 bytes');
    let buffered = '';
    sock.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let lf = buffered.indexOf('\n'); lf >= 0; lf = buffered.indexOf('\n')) {
        const line = buffered.slice(0, lf).replace(/\r$/, '');
        buffered = buffered.slice(lf + 1);
        const { verb, arg } = this.parse(line);
        if (verb === 'EPSV') data = this.epsv(reply);
        else
          void this.command(verb, arg, { send, resolve, isDir, sock }).then((r) => {
            if (r !== undefined) reply(r);
          });
        if (verb === 'CWD' && isDir(resolve(arg))) cwd = resolve(arg);
      }
    });
  }

  private async command(
    verb: string,
    arg: string,
    c: {
      send(text: string): Promise<void>;
      resolve(arg: string): string;
      isDir(p: string): boolean;
      sock: net.Socket;
    },
  ): Promise<string | undefined> {
    const file = FILES.get(c.resolve(arg));
    switch (verb) {
      case 'USER':
        return '331 Password.';
      case 'PASS':
        return '230 Logged in.';
      case 'FEAT':
        return '211 No features.';
      case 'TYPE':
        return '200 OK.';
      case 'PWD':
        return '257 "/" is the current directory.';
      case 'CWD':
        return c.isDir(c.resolve(arg)) ? '250 OK.' : '550 Failed to change directory.';
      case 'SIZE':
        return file !== undefined ? `213 ${file.length}` : '550 Could not get file size.';
      case 'MDTM':
        return file !== undefined ? '213 20240102030405' : '550 Could not get file modification time.';
      case 'LIST': {
        const dir = c.resolve(arg.replace(/^-a ?/, ''));
        const lines = [...FILES]
          .filter(([f]) => f.startsWith(`${dir === '/' ? '' : dir}/`))
          .map(([f, text]) => {
            const name = f.slice(f.lastIndexOf('/') + 1);
            return `-rw-r--r--    1 1000     1000     ${String(text.length).padStart(8)} Jan 02  2024 ${name}\r\n`;
          });
        await c.send(lines.join(''));
        return undefined;
      }
      case 'RETR':
        if (file === undefined) return '550 Failed to open file.';
        await c.send(file);
        return undefined;
      case 'QUIT':
        c.sock.end(Buffer.from('221 Goodbye.\r\n'));
        return undefined;
      default:
        return '502 Not here.';
    }
  }
}

describe('names that are not UTF-8, from a server without UTF8', { timeout: 60_000 }, () => {
  const server = new ByteServer();
  let base: string;
  let dir: string;
  const env = { FERRY_PASSWORD: 'secret' };
  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  before(async () => {
    await server.listen();
    base = `ftp://bench@127.0.0.1:${server.port}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-raw-names-'));
  });

  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ls shows a Latin-1 name escaped, a UTF-8 name as it is', async () => {
    const r = await ferry(['ls', '-1', '--allow-plain', '--quiet', `${base}/sp`], env);
    ok(r);
    assert.equal(r.stdout, 'l\\xe9tin.txt\nplain.txt\nünï.txt\n');
    const long = await ferry(['ls', '--allow-plain', '--quiet', `${base}/sp`], env);
    assert.match(long.stdout, / l\\xe9tin\.txt$/m);
    assert.ok(!long.stdout.includes('\ufffd'), long.stdout);
    const json = await ferry(['ls', '--json', '--allow-plain', '--quiet', `${base}/sp`], env);
    assert.match(json.stdout, /"name": "l\\udce9tin\.txt"/);
  });

  it('ls escapes control characters in names (a terminal escape from the server is not sent raw)', async () => {
    for (const args of [['-1'], []]) {
      const r = await ferry(['ls', ...args, '--allow-plain', '--quiet', `${base}/esc`], env);
      ok(r);
      assert.ok(!r.stdout.includes('\x1b'), JSON.stringify(r.stdout));
      assert.match(r.stdout, /x\\u001b\[2Jy\.txt\n$/);
    }
  });

  it('get by a %E9 URL sends the byte and saves the file under the same bytes', async () => {
    const target = path.join(dir, 'get');
    await mkdir(target);
    ok(await ferry(['get', '--allow-plain', '--quiet', `${base}/sp/l%E9tin.txt`, target], env));
    assert.ok(server.commands.includes(`RETR sp/${LATIN}`), server.commands.join('\n'));
    const names = await readdir(target, { encoding: 'buffer' });
    assert.deepEqual(names, [Buffer.from(LATIN, 'latin1')]);
    assert.equal(await readFile(Buffer.from(path.join(target, LATIN), 'latin1'), 'utf8'), 'latin-1 named\n');
    const cat = await ferry(['cat', '--allow-plain', '--quiet', `${base}/sp/l%E9tin.txt`], env);
    ok(cat);
    assert.equal(cat.stdout, 'latin-1 named\n');
  });

  it('a pattern (mget) fetches such a file under its bytes and names it escaped', async () => {
    const target = path.join(dir, 'mget');
    await mkdir(target);
    const r = await ferry(['get', '--allow-plain', `${base}/sp/l*`, target], env);
    ok(r);
    assert.match(r.stderr, /^↓ sp\/l\\xe9tin\.txt \(14 B\)$/m);
    assert.deepEqual(await readdir(target, { encoding: 'buffer' }), [Buffer.from(LATIN, 'latin1')]);
  });

  it('an error names such a file escaped', async () => {
    const r = await ferry(['cat', '--allow-plain', '--quiet', `${base}/sp/n%E9ant.txt`], env);
    assert.notEqual(r.code, EXIT.ok);
    assert.match(r.stderr, /n\\xe9ant\.txt: 550 Failed to open file\./);
  });

  it('mirror fetches every name with its own bytes; a second run finds them unchanged', async () => {
    const m1 = path.join(dir, 'm1');
    const first = await ferry(['mirror', '--allow-plain', `${base}/sp`, m1], env);
    ok(first);
    const names = (await readdir(m1, { encoding: 'buffer' })).map((b) => b.toString('latin1')).sort();
    assert.deepEqual(names, [LATIN, 'plain.txt', UTF8].sort());
    for (const [f, text] of FILES) {
      if (!f.startsWith('/sp/')) continue;
      const local = Buffer.from(path.join(m1, f.slice('/sp/'.length)), 'latin1');
      assert.equal((await readFile(local)).toString('latin1'), text, f);
    }
    const second = await ferry(['mirror', '--allow-plain', `${base}/sp`, m1], env);
    ok(second);
    assert.match(second.stderr, /Transferred 0 file\(s\)/);
  });
});
