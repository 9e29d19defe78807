/**
 * A passive data connection made under one protection level is not used after PROT changed it: one
 * opened in clear before PROT P would carry the file in clear, or store an upload's ClientHello.
 * (Implicit FTPS starts under PROT P: the clear case needs explicit FTPS before its PROT.)
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import type { DataConnection, RawFtp } from '../support/raw-ftp.js';
import { connectSecure, loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

const SECRET = 'not for the wire in clear\n';
const CHANGED = /^Can't open data connection: the protection level changed since it opened/;

/**
 * A passive port and a connection to it, accepted by the server (one from another address,
 * accepted after it, has been refused) before `prot` is sent.
 */
async function connectedBefore(
  ts: TestServer,
  ftp: RawFtp,
  tls: boolean,
  prot: string,
): Promise<DataConnection> {
  const port = await ftp.epsv();
  const from = ts.logs.length;
  const conn = await ftp.openData(port, { tls });
  const later = await ftp.openData(port, { tls: false, localAddress: '127.0.0.2' }).catch(() => undefined);
  await waitForLog(ts, (l) => /not from the control connection peer/.test(l.msg), from);
  later?.raw.destroy();
  await ftp.cmd(prot, 200);
  return conn;
}

/** Explicit FTPS, logged in, PBSZ 0, TYPE I, still PROT C. */
async function beforeProt(ts: TestServer): Promise<RawFtp> {
  const ftp = await connectSecure(ts, 'explicit');
  await ftp.login(ts.user, ts.password);
  await ftp.cmd('PBSZ 0', 200);
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

describe('a data connection opened in clear before PROT P', { timeout: 60_000 }, () => {
  const server = useFerry();
  before(async () => {
    await writeFile(path.join(server().root, 'secret.txt'), SECRET);
    await writeFile(path.join(server().root, 'keep.txt'), SECRET);
  });

  test('RETR: 150, then 425 saying why; not a byte of the file on it', async () => {
    await withClients(async (track) => {
      const ftp = track(await beforeProt(server()));
      const conn = await connectedBefore(server(), ftp, false, 'PROT P');
      await ftp.cmd('RETR secret.txt', 150);
      assert.match(textOf(await ftp.expect(425)), CHANGED);
      assert.equal((await ftp.readAll(conn)).length, 0, 'nothing sent in clear');
      // The session goes on, protected.
      assert.equal((await ftp.retrieve('secret.txt')).toString(), SECRET);
    });
  });

  test('STOR over a file: 150, then 425; the file keeps its bytes', async () => {
    await withClients(async (track) => {
      const ftp = track(await beforeProt(server()));
      const conn = await connectedBefore(server(), ftp, false, 'PROT P');
      await ftp.cmd('STOR keep.txt', 150);
      // A client that believes PROT P starts TLS on it: its ClientHello must not become the file.
      conn.raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]));
      assert.match(textOf(await ftp.expect(425)), CHANGED);
      conn.raw.destroy();
      assert.equal(await readFile(path.join(server().root, 'keep.txt'), 'utf8'), SECRET);
    });
  });
});

describe('a data connection opened under TLS before PROT C (allowClearData)', { timeout: 60_000 }, () => {
  const server = useFerry({ allowClearData: true });
  before(async () => {
    await writeFile(path.join(server().root, 'secret.txt'), SECRET);
  });

  test('RETR: 150, then 425; the transfer does not go over the TLS it no longer asked for', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await connectedBefore(server(), ftp, true, 'PROT C');
      await ftp.cmd('RETR secret.txt', 150);
      assert.match(textOf(await ftp.expect(425)), CHANGED);
      assert.equal((await ftp.readAll(conn)).length, 0, 'no file data on it');
    });
  });
});
