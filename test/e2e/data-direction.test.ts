/**
 * The server runs a data connection's TLS by the transfer's direction: natively when it sends, over
 * the EOF guard when it receives (the only way to tell close_notify from a bare FIN), and over the
 * guard when the client starts TLS before the transfer command. Whichever way a client orders its
 * ClientHello and its command, on TLS 1.2 and 1.3, explicit and implicit: uploads cut short by a
 * bare FIN never replace a file, clean uploads and downloads arrive whole.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { withDeadline, type RawFtp } from '../support/raw-ftp.js';
import {
  assertSameBytes,
  certificateFiles,
  loggedIn,
  MODES,
  randomData,
  textOf,
  useFerry,
  withClients,
} from './harness.js';

const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((n) => /\.ferry-upload-|\.tmp$/.test(n));
}

/**
 * EPSV, TCP connect, the command and its 150, and only then TLS (ftplib's and FileZilla's order).
 * `session`: as RawFtp.secureData's ('none': a full handshake).
 */
async function commandFirst(
  ftp: RawFtp,
  command: string,
  version: tls.SecureVersion,
  session?: 'none',
): ReturnType<RawFtp['secureData']> {
  const port = await ftp.epsv();
  const plain = await ftp.openData(port, { tls: false });
  await ftp.cmd(command, 150);
  const conn = await ftp.secureData(plain, session);
  assert.equal(conn.tls?.getProtocol(), version, 'the data connection runs the chosen TLS version');
  return conn;
}

for (const mode of MODES) {
  describe(`data connection TLS by direction (${mode})`, () => {
    const server = useFerry();

    for (const version of VERSIONS) {
      test(`${version}, command before ClientHello: a STOR cut by a bare FIN gets 426 and the old file stays`, async () => {
        const v1 = randomData(300_000);
        await writeFile(path.join(server().root, `cut-${version}.bin`), v1);
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode, version));
          await ftp.cmd('TYPE I', 200);
          const conn = await commandFirst(ftp, `STOR cut-${version}.bin`, version);
          await ftp.uploadTruncated(conn, randomData(700_000)); // past 256 KiB disk writes
          const r = await ftp.expect();
          assert.ok(r.code === 426 || r.code === 451, `expected 426/451, got ${r.code} ${textOf(r)}`);
          assertSameBytes(await readFile(path.join(server().root, `cut-${version}.bin`)), v1, 'file on disk');
          assert.deepEqual(await tempFiles(server().root), []);
        });
      });

      test(`${version}, command before ClientHello: a clean STOR and a RETR arrive whole`, async () => {
        const body = randomData(3_000_000);
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode, version));
          await ftp.cmd('TYPE I', 200);
          const up = await commandFirst(ftp, `STOR whole-${version}.bin`, version);
          await ftp.uploadClean(up, body);
          assert.equal((await ftp.expect()).code, 226);
          assertSameBytes(await readFile(path.join(server().root, `whole-${version}.bin`)), body, 'stored');

          const down = await commandFirst(ftp, `RETR whole-${version}.bin`, version);
          const got = await ftp.readAll(down);
          assert.equal((await ftp.expect()).code, 226);
          await withDeadline(down.closed, ftp.timeoutMs, 'the data connection to close');
          assertSameBytes(got, body, 'downloaded');
        });
      });

      test(`${version}, ClientHello before the command: a STOR cut by a bare FIN gets 426; RETR works`, async () => {
        const v1 = randomData(200_000);
        await writeFile(path.join(server().root, `early-${version}.bin`), v1);
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode, version));
          await ftp.cmd('TYPE I', 200);
          const port = await ftp.epsv();
          const conn = await ftp.openData(port, { tls: true });
          await ftp.cmd(`STOR early-${version}.bin`, 150);
          await ftp.uploadTruncated(conn, randomData(700_000)); // past 256 KiB disk writes
          const r = await ftp.expect();
          assert.ok(r.code === 426 || r.code === 451, `expected 426/451, got ${r.code} ${textOf(r)}`);
          assertSameBytes(await ftp.retrieve(`early-${version}.bin`), v1, 'downloaded old file');
        });
      });
    }
  });
}

// --no-require-reuse: a client that resumes nothing (stock ftplib). Its upload runs over the guard,
// which once held back the server's last TLS 1.2 flight (ChangeCipherSpec, Finished) as if it were
// TLS 1.3 session tickets: the handshake never ended on the client's side.
describe('data connection TLS by direction, full handshakes (requireSessionReuse: false)', () => {
  let certs: Awaited<ReturnType<typeof certificateFiles>>;
  before(async () => {
    certs = await certificateFiles();
  });
  const server = useFerry(() => ({ tls: { ...certs.tls, requireSessionReuse: false } }));
  after(async () => {
    await certs.cleanup();
  });

  for (const mode of MODES) {
    for (const version of VERSIONS) {
      test(`${mode}, ${version}, command before ClientHello, no session offered: STOR gets 226 and the file is stored`, async () => {
        const body = randomData(100_000);
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode, version));
          await ftp.cmd('TYPE I', 200);
          const up = await commandFirst(ftp, `STOR full-${mode}-${version}.bin`, version, 'none');
          assert.equal(up.sessionReused, false, 'a full handshake');
          await ftp.uploadClean(up, body);
          assert.equal((await ftp.expect()).code, 226);
          const stored = await readFile(path.join(server().root, `full-${mode}-${version}.bin`));
          assertSameBytes(stored, body, 'stored');
        });
      });
    }
  }
});
