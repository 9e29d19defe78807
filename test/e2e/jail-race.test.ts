// Issue 6 over FTP: while a local user keeps swapping a served directory for a symlink to the
// outside, clients RETR, SIZE, LIST, STOR, MKD, RNFR/RNTO, DELE and RMD in it. No byte and no name
// from outside reaches a client, and nothing outside is created, changed or removed.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DataConnection, RawFtp } from '../support/raw-ftp.js';
import {
  buildRaceTree,
  INSIDE,
  snapshot,
  startAttacker,
  VICTIMS,
  type RaceTree,
} from '../support/rename-race.js';
import { loggedIn, useFerry, withClients } from './harness.js';

const CLIENTS = 4;
const ROUNDS = VICTIMS / CLIENTS;

/**
 * A transfer that may be refused: the bytes (or an empty buffer for an upload) on 226, else
 * undefined. TLS starts after the 150 (Ferry's client's order): a handshake finished before the
 * command would wait out the server's half-second direction grace, three times a round.
 */
async function transfer(ftp: RawFtp, line: string, upload?: Buffer): Promise<Buffer | undefined> {
  const plain = await ftp.openData(await ftp.epsv(), { tls: false });
  ftp.send(line);
  let r = await ftp.expect();
  if (r.code !== 150) {
    plain.raw.destroy();
    await plain.closed;
    return undefined;
  }
  let conn: DataConnection;
  try {
    conn = await ftp.secureData(plain);
  } catch {
    // refused after its 150 (the storage failed under the swap): the server closed the connection
    await ftp.expect();
    return undefined;
  }
  let data: Buffer = Buffer.alloc(0);
  if (upload) await ftp.uploadClean(conn, upload);
  else data = await ftp.readAll(conn);
  r = await ftp.expect();
  return r.code === 226 ? data : undefined;
}

describe('jail under a directory-swapping attacker (implicit FTPS)', { timeout: 300_000 }, () => {
  const server = useFerry();
  let outsideBase: string;
  let tree: RaceTree;
  before(async () => {
    outsideBase = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-outside-'));
    tree = await buildRaceTree(server().root, path.join(outsideBase, 'outside'));
  });
  after(() => rm(outsideBase, { recursive: true, force: true }));

  test('RETR, SIZE, LIST, STOR, MKD, RNFR/RNTO, DELE and RMD never reach outside', async (t) => {
    const escapes: string[] = [];
    let transfers = 0;
    const client = async (ftp: RawFtp, k: number): Promise<void> => {
      for (let r = 0; r < ROUNDS; r++) {
        const i = k * ROUNDS + r;
        const got = await transfer(ftp, 'RETR /a/f.txt');
        if (got !== undefined) {
          transfers++;
          if (got.toString() !== INSIDE) escapes.push(`RETR ${JSON.stringify(got.toString())}`);
        }
        const size = await ftp.cmd('SIZE /a/f.txt');
        if (size.code === 213 && size.lines[0] !== String(INSIDE.length)) escapes.push('SIZE');
        const list = await transfer(ftp, 'LIST /a');
        if (list?.toString().includes('only-outside.txt')) escapes.push('LIST');
        await transfer(ftp, `STOR /a/w-${i}`, Buffer.from('w'));
        await ftp.cmd(`MKD /a/d-${i}`);
        if ((await ftp.cmd(`RNFR /a/w-${i}`)).code === 350) await ftp.cmd(`RNTO /a/m-${i}`);
        await ftp.cmd(`DELE /a/v-${i}`);
        await ftp.cmd(`RMD /a/e-${i}`);
      }
    };
    await withClients(async (track) => {
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, async () => track(await loggedIn(server(), 'implicit'))),
      );
      const attacker = await startAttacker(tree);
      try {
        await Promise.all(clients.map((ftp, k) => client(ftp, k)));
      } finally {
        await attacker.stop();
      }
    });
    assert.deepEqual(escapes, []);
    assert.equal(await snapshot(tree.outside), tree.outsideBefore, 'the outside changed');
    const leftovers = (await readdir(tree.root, { recursive: true })).filter((n) =>
      n.includes('.ferry-upload-'),
    );
    assert.deepEqual(leftovers, [], 'upload temp files left behind');
    assert.ok(transfers > 0, 'no RETR got through at all: the test tested nothing');
    t.diagnostic(`${transfers} RETRs served`);
  });
});
