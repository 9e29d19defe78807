/**
 * Listings over explicit and implicit FTPS: LIST (parsed back with the client parser), NLST,
 * MLSD/MLST facts, and names that trip naive servers: spaces, quotes, leading dashes, UTF-8.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { formatTimeVal, parseListLine, parseMlsxLine, type MlsxEntry } from '../../src/protocol/listing.js';
import { loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

/** Files in the root and their contents. */
const FILES: Record<string, string> = {
  'plain.txt': 'hello',
  'with space.txt': 'space',
  'quote"d.txt': 'quote',
  "it's.txt": 'apostrophe',
  ' leading space.txt': 'leading',
  'trailing space.txt ': 'trailing',
  'café-ü-日本.txt': 'utf-8',
  '-dash-first.txt': 'dash',
};
const DIRS = ['dir one', 'dashes', 'nodash'];

function lines(text: string): string[] {
  assert.ok(text === '' || text.endsWith('\r\n'), 'listing lines end with CRLF');
  return text === '' ? [] : text.slice(0, -2).split('\r\n');
}

function mlsx(text: string): MlsxEntry[] {
  return lines(text).map((l) => {
    const e = parseMlsxLine(l);
    assert.ok(e, `unparsable MLSx line ${JSON.stringify(l)}`);
    return e;
  });
}

for (const mode of MODES) {
  describe(`listings (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();
    // A recent time (ls shows HH:MM, whole minutes) and an old one (ls shows the year instead).
    const modified = new Date(Math.floor((Date.now() - 10 * 86_400_000) / 60_000) * 60_000);
    const old = new Date(Date.UTC(2020, 0, 15, 10, 20, 30));
    before(async () => {
      const { root } = server();
      for (const [name, body] of Object.entries(FILES)) await writeFile(path.join(root, name), body);
      for (const d of DIRS) await mkdir(path.join(root, d));
      await utimes(path.join(root, 'plain.txt'), modified, modified);
      await utimes(path.join(root, 'with space.txt'), old, old);
      await writeFile(path.join(root, 'dir one', 'inner file.txt'), 'inner');
      await writeFile(path.join(root, 'dashes', '-la'), 'I am a file named -la');
      await writeFile(path.join(root, 'dashes', 'other.txt'), 'other');
      await writeFile(path.join(root, 'nodash', 'a.txt'), 'a');
      await writeFile(path.join(root, 'nodash', 'b.txt'), 'bb');
    });

    test('LIST (ls -l form) parses back with parseListLine: every name, type and size', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const entries = lines(await ftp.listing('LIST')).map((l) => {
          const e = parseListLine(l);
          assert.ok(e, `unparsable LIST line ${JSON.stringify(l)}`);
          return e;
        });
        const byName = new Map(entries.map((e) => [e.name, e]));
        assert.deepEqual([...byName.keys()].sort(), [...Object.keys(FILES), ...DIRS].sort());
        for (const [name, body] of Object.entries(FILES)) {
          assert.equal(byName.get(name)?.type, 'file', name);
          assert.equal(byName.get(name)?.size, Buffer.byteLength(body), name);
        }
        for (const d of DIRS) assert.equal(byName.get(d)?.type, 'dir', d);
        assert.equal(byName.get('plain.txt')?.modified.getTime(), modified.getTime());
        assert.equal(byName.get('with space.txt')?.modified.getTime(), Date.UTC(2020, 0, 15));
      });
    });

    test('NLST names entries as the argument did (vsftpd, ProFTPD): bare for none or ., joined for a directory, as given for a file', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const all = [...Object.keys(FILES), ...DIRS].sort();
        assert.deepEqual(lines(await ftp.listing('NLST')).sort(), all);
        assert.deepEqual(lines(await ftp.listing('NLST', '.')).sort(), all);
        assert.deepEqual(
          lines(await ftp.listing('NLST', '/')).sort(),
          all.map((n) => `/${n}`),
        );
        assert.deepEqual(lines(await ftp.listing('NLST', 'dir one')), ['dir one/inner file.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', 'dir one/')), ['dir one/inner file.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', './dir one')), ['./dir one/inner file.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', '-l dir one')), ['dir one/inner file.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', 'dir one/inner file.txt')), [
          'dir one/inner file.txt',
        ]);
        assert.deepEqual(lines(await ftp.listing('NLST', '/plain.txt')), ['/plain.txt']);
        await ftp.cmd('CWD dir one', 250);
        assert.deepEqual(
          lines(await ftp.listing('NLST', '..')).sort(),
          all.map((n) => `../${n}`),
        );
        await ftp.cmd('CWD /', 250);
        assert.deepEqual(
          lines(await ftp.listing('LIST', 'dir one')).map((l) => parseListLine(l)?.name),
          ['inner file.txt'],
        );
      });
    });

    test('MLSD facts: type, size, modify, perm, unix.mode', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const entries = mlsx(await ftp.listing('MLSD'));
        const byName = new Map(entries.map((e) => [e.name, e]));
        assert.deepEqual([...byName.keys()].sort(), [...Object.keys(FILES), ...DIRS].sort());
        const plain = byName.get('plain.txt');
        assert.ok(plain);
        const st = await stat(path.join(server().root, 'plain.txt'));
        assert.equal(plain.facts['type'], 'file');
        assert.equal(plain.facts['size'], '5');
        assert.equal(plain.facts['modify'], formatTimeVal(modified));
        assert.match(plain.facts['perm'] ?? '', /^[radfw]+$/);
        assert.ok((plain.facts['perm'] ?? '').includes('r') && (plain.facts['perm'] ?? '').includes('w'));
        assert.equal(Number.parseInt(plain.facts['unix.mode'] ?? '', 8), st.mode & 0o777);
        const dir = byName.get('dir one');
        assert.equal(dir?.facts['type'], 'dir');
        assert.match(dir?.facts['perm'] ?? '', /e/);
        assert.match(dir?.facts['perm'] ?? '', /l/);
        assert.equal(byName.get('with space.txt')?.facts['modify'], '20200115102030');
        assert.equal(byName.get('café-ü-日本.txt')?.size, Buffer.byteLength(FILES['café-ü-日本.txt'] ?? ''));
      });
    });

    test('MLSD returns every fact FEAT marks as enabled (*)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const feat = (await ftp.cmd('FEAT', 211)).lines.find((l) => l.startsWith(' MLST '));
        assert.ok(feat, 'MLST in FEAT');
        const starred = [...feat.matchAll(/([\w.]+)\*;/g)].map((m) => (m[1] ?? '').toLowerCase());
        const [plain] = mlsx(await ftp.listing('MLSD')).filter((e) => e.name === 'plain.txt');
        assert.ok(plain);
        const missing = starred.filter((f) => !(f in plain.facts));
        assert.deepEqual(missing, [], `facts advertised as enabled but not returned: ${missing.join(', ')}`);
      });
    });

    test('MLST over the control connection: 250, one fact line starting with a space, the path', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const [arg, expectedPath, type] of [
          ['plain.txt', '/plain.txt', 'file'],
          ['with space.txt', '/with space.txt', 'file'],
          ['dir one', '/dir one', 'dir'],
          ['', '/', 'dir'],
        ] as const) {
          const r = await ftp.cmd(arg === '' ? 'MLST' : `MLST ${arg}`, 250);
          assert.equal(r.lines.length, 3, textOf(r));
          const factLine = r.lines[1] ?? '';
          assert.ok(factLine.startsWith(' '), `fact line starts with one space: ${JSON.stringify(factLine)}`);
          const e = parseMlsxLine(factLine.slice(1));
          assert.equal(e?.name, expectedPath);
          assert.equal(e?.facts['type'], type);
        }
        await ftp.cmd('MLST no-such-file', 550);
      });
    });

    test('LIST -la lists the current directory (ls options are not taken as a name)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD nodash', 250);
        for (const arg of ['-la', '-al', '-l', '-a']) {
          const names = lines(await ftp.listing('LIST', arg)).map((l) => parseListLine(l)?.name);
          assert.deepEqual(names.sort(), ['a.txt', 'b.txt'], `LIST ${arg}`);
        }
        const other = lines(await ftp.listing('LIST', '-la /dir one')).map((l) => parseListLine(l)?.name);
        assert.deepEqual(other, ['inner file.txt']);
        // Several option words, long ones too (vsftpd, ProFTPD and Pure-FTPd ignore them all).
        for (const arg of ['--full-time /dir one', '-l -a /dir one', '-la --color=never /dir one']) {
          const named = lines(await ftp.listing('LIST', arg)).map((l) => parseListLine(l)?.name);
          assert.deepEqual(named, ['inner file.txt'], `LIST ${arg}`);
        }
        assert.deepEqual(lines(await ftp.listing('NLST', '--full-time /dir one')), [
          '/dir one/inner file.txt',
        ]);
      });
    });

    test('LIST -d / -ld and NLST -d show the entry itself, named as given (ls -d); other options change nothing', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const listed = async (arg: string): Promise<[string, string][]> =>
          lines(await ftp.listing('LIST', arg)).map((l) => {
            const e = parseListLine(l);
            return [e?.name ?? l, e?.type ?? '?'];
          });
        for (const flags of ['-d', '-ld', '-dl', '-l -d', '-lad', '--directory'])
          assert.deepEqual(await listed(`${flags} nodash`), [['nodash', 'dir']], `LIST ${flags} nodash`);
        assert.deepEqual(await listed('-d /dir one'), [['/dir one', 'dir']]);
        assert.deepEqual(await listed('-d nodash/a.txt'), [['nodash/a.txt', 'file']]);
        assert.deepEqual(await listed('-d nod*'), [['nodash', 'dir']], 'a pattern: the matches themselves');
        assert.deepEqual((await listed('-la nodash')).map(([n]) => n).sort(), ['a.txt', 'b.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', '-d nodash')), ['nodash']);
        await ftp.cmd('LIST -d missing', 550);
        const stat = textOf(await ftp.cmd('STAT -d nodash', 212));
        assert.equal(stat.split('\n').filter((l) => / nodash$/.test(l)).length, 1, stat);
        assert.doesNotMatch(stat, /a\.txt/);
        await ftp.cmd('CWD nodash', 250);
        assert.deepEqual(await listed('-d'), [['.', 'dir']]);
        assert.deepEqual(lines(await ftp.listing('NLST', '-d')), ['.']);
      });
    });

    test('LIST and NLST expand a pattern in the last segment (mget); an existing name wins over a pattern', async () => {
      const dir = path.join(server().root, 'globbed');
      await mkdir(dir);
      for (const name of ['a.txt', 'b.txt', 'c*.txt', '.hidden.txt'])
        await writeFile(path.join(dir, name), name);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.deepEqual(lines(await ftp.listing('NLST', 'globbed/?.txt')).sort(), [
          'globbed/a.txt',
          'globbed/b.txt',
        ]);
        const listed = lines(await ftp.listing('LIST', '-l /globbed/[b-z].txt')).map(
          (l) => parseListLine(l)?.name,
        );
        assert.deepEqual(listed, ['b.txt']);
        await ftp.cmd('CWD globbed', 250);
        assert.deepEqual(lines(await ftp.listing('NLST', '*.txt')).sort(), ['a.txt', 'b.txt', 'c*.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', 'c*.txt')), ['c*.txt'], 'the file of that name');
        assert.deepEqual(lines(await ftp.listing('NLST', '*.none')), [], 'no match: an empty listing');
        await ftp.cmd('NLST missing/*.txt', 550); // the directory must exist
      });
    });

    test('LIST, NLST and STAT take `\\` quoting in patterns: a quoted wildcard is literal; nothing left to expand, the name it quotes', async () => {
      const dir = path.join(server().root, 'quoted');
      await mkdir(dir);
      for (const name of ['st*ar?[x].txt', 'stXar1x.txt', '[abc'])
        await writeFile(path.join(dir, name), name);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const nlst = async (arg: string): Promise<string[]> => lines(await ftp.listing('NLST', arg)).sort();
        assert.deepEqual(await nlst('quoted/st\\*ar*'), ['quoted/st*ar?[x].txt']);
        await ftp.cmd('CWD quoted', 250);
        assert.deepEqual(await nlst('st*ar*'), ['st*ar?[x].txt', 'stXar1x.txt'], 'unquoted: both');
        assert.deepEqual(await nlst('st\\*ar*'), ['st*ar?[x].txt']);
        assert.deepEqual(await nlst('st\\*ar\\?\\[x\\].txt'), ['st*ar?[x].txt'], 'all quoted: that name');
        assert.deepEqual(await nlst('\\[abc'), ['[abc']);
        assert.deepEqual(await nlst('\\[a*'), ['[abc']);
        const list = lines(await ftp.listing('LIST', '-l st\\*ar*')).map((l) => parseListLine(l)?.name);
        assert.deepEqual(list, ['st*ar?[x].txt']);
        const itself = lines(await ftp.listing('LIST', '-d \\[abc')).map((l) => parseListLine(l)?.name);
        assert.deepEqual(itself, ['[abc']);
        const stat = textOf(await ftp.cmd('STAT st\\*ar*', 212));
        assert.match(stat, / st\*ar\?\[x\]\.txt\n/);
        assert.doesNotMatch(stat, /stXar1x/);
        // `st\*` is the name `st*`: there is none.
        assert.equal(textOf(await ftp.cmd('NLST st\\*', 550)), 'No such file or directory.');
      });
    });

    test('beside a file named -la, LIST -la lists the directory; ./-la is the file, sized and downloaded', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD dashes', 250);
        await ftp.cmd('TYPE I', 200);
        // Options alone are options (vsftpd, Pure-FTPd; WinSCP sends LIST -a): it listed the file only.
        const listed = lines(await ftp.listing('LIST', '-la')).map((l) => parseListLine(l)?.name);
        assert.deepEqual(listed.filter((n) => n !== '.' && n !== '..').sort(), ['-la', 'other.txt']);
        assert.deepEqual(lines(await ftp.listing('NLST', '-la')).sort(), ['-la', 'other.txt']);
        assert.deepEqual(
          lines(await ftp.listing('LIST', './-la')).map((l) => parseListLine(l)?.name),
          ['-la'],
        );
        assert.equal(textOf(await ftp.cmd('SIZE -la', 213)), String('I am a file named -la'.length));
        assert.equal((await ftp.retrieve('-la')).toString(), 'I am a file named -la');
        const all = lines(await ftp.listing('NLST')).sort();
        assert.deepEqual(all, ['-la', 'other.txt']);
      });
    });

    test('names with spaces, quotes, leading dashes and UTF-8 round-trip through RETR and STOR', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        for (const [name, body] of Object.entries(FILES)) {
          assert.equal((await ftp.retrieve(name)).toString(), body, name);
        }
        const utf8 = 'новый файл ü 日本語.txt';
        const [, done] = await ftp.store(utf8, Buffer.from('stored with a UTF-8 name'));
        assert.equal(done.code, 226, textOf(done));
        assert.equal(await readFile(path.join(server().root, utf8), 'utf8'), 'stored with a UTF-8 name');
        assert.ok(lines(await ftp.listing('NLST')).includes(utf8));
        await ftp.cmd('MKD Ordner ü', 257);
        await ftp.cmd('CWD Ordner ü', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/Ordner ü" /);
      });
    });

    test('LIST of a single file gives one line for it', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const l = lines(await ftp.listing('LIST', 'quote"d.txt'));
        assert.equal(l.length, 1);
        assert.equal(parseListLine(l[0] ?? '')?.name, 'quote"d.txt');
        await ftp.cmd('LIST no-such-dir', 550);
      });
    });
  });
}
