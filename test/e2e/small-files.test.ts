/**
 * Many small downloads on one session (issue 8): every one succeeds whichever TLS session the client
 * offers on its data connections (the control connection's each time, as ftplib-style clients do,
 * or the newest it holds, as OpenSSL's session cache and curl do), the passive port is reused from
 * one transfer to the next, and a data connection that does not resume is still refused afterwards.
 * Run over explicit and implicit FTPS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { RawFtp } from '../support/raw-ftp.js';
import { loggedIn, MODES, useFerry, waitForLog, withClients } from './harness.js';

/**
 * The 1,000 on implicit FTPS; explicit differs only in how the control connection starts
 * (the data path is the same), so fewer there keep the suite's time reasonable on CI.
 */
const FILES_BY_MODE = { implicit: 1_000, explicit: 300 } as const;
const SIZE = 16 * 1024;

type Strategy = 'control session each time' | 'newest session';

/** EPSV, RETR, then the TLS handshake after the 150 (as ftplib, lftp and the bench client do). */
async function retr(
  ftp: RawFtp,
  name: string,
  session: Buffer,
): Promise<{ body: Buffer; port: number; newest?: Buffer }> {
  const port = await ftp.epsv();
  const raw = await ftp.openData(port, { tls: false });
  await ftp.cmd(`RETR ${name}`, 150);
  const conn = await ftp.secureData(raw, session);
  assert.equal(conn.sessionReused, true, `${name}: the data connection resumed`);
  const body = await ftp.readAll(conn);
  await ftp.expect(226);
  return { body, port, newest: conn.sessions.at(-1) };
}

for (const mode of MODES) {
  const count = FILES_BY_MODE[mode];
  describe(`${count} small RETRs on one session (${mode})`, { timeout: 600_000 }, () => {
    const server = useFerry();
    const bodies: Buffer[] = [];
    before(async () => {
      await mkdir(path.join(server().root, 'small'));
      for (let i = 0; i < count; i++) {
        bodies.push(randomBytes(SIZE));
        await writeFile(path.join(server().root, 'small', `f${i}.bin`), bodies[i] as Buffer);
      }
    });

    for (const strategy of ['control session each time', 'newest session'] satisfies Strategy[]) {
      test(`offering the ${strategy}: all ${count} arrive intact, over few passive ports`, async () => {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.cmd('TYPE I', 200);
          await ftp.cmd('CWD small', 250);
          const control = await ftp.waitForSession();
          let offer = control;
          const ports = new Set<number>();
          for (let i = 0; i < count; i++) {
            const got = await retr(ftp, `f${i}.bin`, offer);
            assert.ok(got.body.equals(bodies[i] as Buffer), `f${i}.bin arrived intact`);
            ports.add(got.port);
            if (strategy === 'newest session' && got.newest) offer = got.newest;
          }
          assert.ok(ports.size < 10, `${ports.size} passive ports for ${count} transfers: listeners reused`);
        });
      });
    }

    // A Python FTP_TLS client offering the newest session it holds: the last download's ticket T,
    // since it reads no ticket on an upload it only writes and closes. Each upload resuming T makes
    // the server keep a fresh ticket; T, in use all along, must stay resumable (the 9th upload got
    // 522 while the cache evicted by age).
    test("offering the newest session: 10 RETRs, then 20 STORs resuming the last download's, all 226", async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('CWD small', 250);
        let offer = await ftp.waitForSession();
        for (let i = 0; i < 10; i++) {
          const got = await retr(ftp, `f${i}.bin`, offer);
          assert.ok(got.body.equals(bodies[i] as Buffer), `f${i}.bin arrived intact`);
          if (got.newest) offer = got.newest;
        }
        for (let i = 0; i < 20; i++) {
          const port = await ftp.epsv();
          const raw = await ftp.openData(port, { tls: false });
          await ftp.cmd(`STOR up${i}.bin`, 150);
          const conn = await ftp.secureData(raw, offer);
          // Asserted once the server has closed the connection: a TLS socket destroyed while the
          // server's refusal is in flight can crash Node 20 (SIGSEGV in TLSWrap::ClearOut).
          await ftp.uploadClean(conn, bodies[i] as Buffer);
          assert.equal(conn.sessionReused, true, `upload ${i + 1}: the data connection resumed`);
          await ftp.expect(226);
        }
      });
    });

    test("after many transfers, a data connection with a full handshake is still refused (522 at once, reason logged); the client's next transfer works", async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('CWD small', 250);
        const port = await ftp.epsv();
        await ftp.cmd('RETR f0.bin', 150);
        const intruder = await ftp.openData(port, { tls: true, reuse: false }).catch(() => undefined);
        await waitForLog(server(), (l) => /did not resume/.test(l.msg), from);
        if (intruder)
          assert.equal((await ftp.readAll(intruder)).length, 0, 'no file data on a refused connection');
        await ftp.expect(522);
        assert.ok((await ftp.retrieve('f0.bin')).equals(bodies[0] as Buffer));
      });
    });
  });
}
