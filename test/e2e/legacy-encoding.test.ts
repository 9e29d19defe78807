/**
 * legacyEncoding: a client that sends CP1252 names (old Windows tools, no OPTS UTF8) is read in
 * CP1252 and answered in it; the names are stored in UTF-8, so a UTF-8 client sees the same files.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { encodeText } from '../../src/protocol/byte-text.js';
import type { DataConnection, RawFtp } from '../support/raw-ftp.js';
import { loggedIn, textOf, useFerry, withClients } from './harness.js';

/** A command line in CP1252 (the test's strings hold only Latin-1 and `\x80`-`\x9f` bytes). */
const cp = (line: string): Buffer => Buffer.from(`${line}\r\n`, 'latin1');
/** A reply's bytes as the client received them. */
const bytesOf = (text: string): string => encodeText(text).toString('latin1');

/** A transfer command sent as bytes: its data connection (TLS, as the session's PROT P). */
async function transfer(ftp: RawFtp, line: Buffer): Promise<DataConnection> {
  const plain = await ftp.openData(await ftp.epsv(), { tls: false });
  ftp.send(line);
  await ftp.expect(150);
  return ftp.secureData(plain);
}

async function fetch(ftp: RawFtp, line: Buffer): Promise<Buffer> {
  const conn = await transfer(ftp, line);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  await conn.closed;
  return data;
}

const lines = (b: Buffer): string[] =>
  b
    .toString('latin1')
    .split('\r\n')
    .filter((l) => l !== '');

describe('legacyEncoding cp1252: a client that sends CP1252 names', { timeout: 60_000 }, () => {
  const server = useFerry({ legacyEncoding: 'cp1252' });

  test('STOR, LIST, RETR, MKD/CWD, RNFR/RNTO in CP1252; stored in UTF-8, seen by a UTF-8 client', async () => {
    const root = server().root;
    await withClients(async (track) => {
      const old = track(await loggedIn(server(), 'explicit'));
      await old.cmd('TYPE I', 200);
      old.send(cp('MKD d\xfcr'));
      assert.match(bytesOf(textOf(await old.expect(257))), /^"\/d\xfcr" /);
      old.send(cp('CWD d\xfcr'));
      await old.expect(250);
      assert.match(bytesOf(textOf(await old.cmd('PWD', 257))), /^"\/d\xfcr" /, 'PWD in CP1252');

      const up = await transfer(old, cp('STOR caf\xe9 \x80.txt'));
      await old.uploadClean(up, Buffer.from('coffee'));
      await old.expect(226);
      // A name CP1252 cannot hold, put there by someone else: the old client is not shown it.
      await writeFile(path.join(root, 'dür', 'Жук.txt'), 'beetle');

      assert.deepEqual(lines(await fetch(old, cp('NLST'))), ['caf\xe9 \x80.txt']);
      const list = lines(await fetch(old, cp('LIST')));
      assert.equal(list.length, 1, list.join('\n'));
      assert.match(list[0] ?? '', / caf\xe9 \x80\.txt$/);
      const mlsd = lines(await fetch(old, cp('MLSD')));
      assert.match(mlsd.join('\n'), /; caf\xe9 \x80\.txt$/m);
      assert.doesNotMatch(mlsd.join('\n'), /Жук|\?\?\?/);
      old.send(cp('STAT .'));
      const stat = bytesOf(textOf(await old.expect(212)));
      assert.match(stat, / caf\xe9 \x80\.txt$/m);
      assert.doesNotMatch(stat, /\.txt[\s\S]*\.txt/, 'one entry only');
      assert.equal((await fetch(old, cp('RETR caf\xe9 \x80.txt'))).toString(), 'coffee');

      old.send(cp('RNFR caf\xe9 \x80.txt'));
      await old.expect(350);
      old.send(cp('RNTO r\xe9sum\xe9.txt'));
      await old.expect(250);
      old.send(cp('STAT r\xe9sum\xe9.txt'));
      assert.match(bytesOf(textOf(await old.expect(213))), / r\xe9sum\xe9\.txt$/m);

      // Stored in UTF-8.
      assert.deepEqual((await readdir(path.join(root, 'dür'))).sort(), ['résumé.txt', 'Жук.txt'].sort());
      assert.equal(await readFile(path.join(root, 'dür', 'résumé.txt'), 'utf8'), 'coffee');

      // A UTF-8 client (curl, lftp) is read and answered in UTF-8, on the same server.
      const utf8 = track(await loggedIn(server(), 'explicit'));
      await utf8.cmd('TYPE I', 200);
      await utf8.cmd('CWD dür', 250);
      assert.match(textOf(await utf8.cmd('PWD', 257)), /^"\/dür" /);
      assert.deepEqual((await utf8.listing('NLST')).split('\r\n').filter(Boolean).sort(), [
        'résumé.txt',
        'Жук.txt',
      ]);
      assert.equal((await utf8.retrieve('résumé.txt')).toString(), 'coffee');
      assert.ok(old.noPendingReplies && utf8.noPendingReplies);
    });
  });

  test('a name the set cannot hold shows as ? in a reply; OPTS UTF8 ON brings UTF-8 back', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD Жук', 257);
      await ftp.cmd('CWD Жук', 250);
      assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/Жук" /, 'UTF-8 until a CP1252 line');
      ftp.send(cp('MKD \xe9t\xe9'));
      assert.match(bytesOf(textOf(await ftp.expect(257))), /^"\/\?\?\?\/\xe9t\xe9" /);
      await ftp.cmd('OPTS UTF8 ON', 200);
      // Its lines are still read in CP1252; its replies are UTF-8 again.
      ftp.send(cp('CWD \xe9t\xe9'));
      await ftp.expect(250);
      assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/Жук\/été" /);
    });
  });
});

describe('legacyEncoding unset: a CP1252 line is refused as before', { timeout: 60_000 }, () => {
  const server = useFerry();

  test('MKD in CP1252 → 501, nothing made', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      ftp.send(cp('MKD d\xfcr2'));
      assert.match(textOf(await ftp.expect(501)), /UTF-8/);
    });
    assert.deepEqual(
      (await readdir(server().root)).filter((n) => n.endsWith('r2')),
      [],
    );
  });
});
