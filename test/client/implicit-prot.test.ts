/**
 * Defect 10 of issue 7: `ftps://` against vsftpd implicit with force_local_data_ssl=NO, a server
 * that neither implies PROT P on implicit FTPS (as MS-FTPS 3.2.5.1 has it) nor refuses clear data.
 * The client must negotiate PROT P, never move file bytes in clear unless asked to, and never write
 * its TLS ClientHello into the remote file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { startFerry, testCertificate } from '../support/ferry.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, randomFile, sha256, sha256File, withPeerLog } from './helpers.js';

describe(
  'FerryClient with vsftpd implicit that neither implies nor forces PROT P',
  { timeout: 120_000 },
  () => {
    // force_local_data_ssl=NO: vsftpd takes clear data until PROT P, and does not imply it on implicit
    // FTPS. The client must negotiate PROT P (never clear data on ftps:// unless asked for) and must
    // not write its TLS ClientHello into the remote file.
    let peer: FtpsPeer;
    let local: string;
    const log = new DialogueLog();

    before(async () => {
      peer = await startVsftpd({ implicit: true, extraConfig: { force_local_data_ssl: 'NO' } });
      local = await mkdtemp(path.join(os.tmpdir(), 'ferry-implicit-prot-'));
    });

    after(async () => {
      await peer?.stop();
      await rm(local, { recursive: true, force: true });
    });

    const withLog = <T>(fn: () => Promise<T>): Promise<T> =>
      withPeerLog('vsftpd implicit, force_local_data_ssl=NO', peer, log, fn);

    for (const dataMode of ['passive', 'active'] as const) {
      it(`puts, lists and gets over protected data (${dataMode})`, () =>
        withLog(async () => {
          const client = await connectToPeer(peer, { dataMode }, log);
          try {
            assert.equal(client.dataProtection, 'P');
            const name = `${dataMode}.bin`;
            const src = path.join(local, name);
            await randomFile(src, 300_000);
            await client.put(src, name);
            assert.equal(sha256(await readFile(path.join(peer.root, name))), await sha256File(src));
            assert.ok((await client.list('')).some((e) => e.name === name && e.size === 300_000));
            const out = path.join(local, `${name}.down`);
            await client.get(name, out);
            assert.equal(await sha256File(out), await sha256File(src));
          } finally {
            await client.close();
          }
          assert.ok(log.includes('> PBSZ 0'), log.dump());
          assert.ok(log.includes('> PROT P'), log.dump());
        }));
    }

    it('sends data in clear only when asked for (dataProtection clear, i.e. --prot c)', () =>
      withLog(async () => {
        const client = await connectToPeer(peer, { dataProtection: 'clear' }, log);
        try {
          assert.equal(client.dataProtection, 'C');
          await client.put(await tmpFile(local, 'clear', 'in clear'), 'clear.txt');
          assert.equal(await readFile(path.join(peer.root, 'clear.txt'), 'utf8'), 'in clear');
        } finally {
          await client.close();
        }
        assert.ok(log.includes('> PROT C'), log.dump());
      }));
  },
);

describe('FerryClient on implicit FTPS toward a server it does not recognise as implying PROT P', () => {
  it('sends PBSZ 0 and PROT P, which an implying server (Ferry with its own greeting) accepts', async () => {
    const ts = await startFerry({ greeting: 'Welcome.' });
    const log = new DialogueLog();
    try {
      const client = await FerryClient.connect({
        host: ts.host,
        port: ts.implicitPort,
        security: 'implicit',
        user: ts.user,
        password: ts.password,
        ca: (await testCertificate()).cert,
        log: log.log,
      });
      try {
        await writeFile(path.join(ts.root, 'f.txt'), 'protected');
        assert.equal(client.dataProtection, 'P');
        assert.deepEqual(
          (await client.list('')).map((e) => e.name),
          ['f.txt'],
        );
      } finally {
        await client.close();
      }
      assert.ok(log.includes('> PBSZ 0') && log.includes('> PROT P'), log.dump());
      assert.ok(!log.includes('refused'), log.dump());
    } finally {
      await ts.close();
    }
  });
});

async function tmpFile(dir: string, name: string, content: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, content);
  return f;
}
