/**
 * `--prot c` against servers that require protected data: each refuses in its own way (ProFTPD with
 * TLSRequired: 534 to PROT C; vsftpd with force_local_data_ssl: 522 to LIST; pyftpdlib with
 * tls_data_required: 550 to PASV). Each is a refusal by the server: exit 6, with a message that says
 * the server requires protected data, never exit 4 (TLS) or 8 (transfer).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startProftpd, startPyftpdlib, startVsftpd, type FtpsPeer } from '../support/peers.js';
import { ferry } from './helpers.js';

for (const { name, start, refusal } of [
  { name: 'ProFTPD', start: () => startProftpd(), refusal: /PROT C: 534 / },
  { name: 'vsftpd', start: () => startVsftpd(), refusal: /: 522 / },
  {
    name: 'pyftpdlib',
    start: () => startPyftpdlib(),
    refusal: /: 550 SSL\/TLS required on the data channel/,
  },
]) {
  describe(`ferry ls --prot c against ${name}, which requires protected data`, { timeout: 120_000 }, () => {
    let peer: FtpsPeer;
    let home: string;
    before(async () => {
      peer = await start();
      home = await mkdtemp(path.join(os.tmpdir(), 'ferry-prot-clear-'));
    });
    after(async () => {
      await peer?.stop();
      await rm(home, { recursive: true, force: true });
    });

    it('exit 6, the server requires protected data (drop --prot c)', async () => {
      const url = `ftpes://${peer.user}@${peer.host}:${peer.port}/`;
      const env = { HOME: home, FERRY_PASSWORD: peer.password };
      const r = await ferry(['ls', '--prot', 'c', '--ca', peer.certificate.certFile, '--quiet', url], env);
      assert.equal(r.code, EXIT.remote, r.stderr);
      assert.match(r.stderr, /^ferry: The server requires protected data \(drop --prot c/m);
      assert.match(r.stderr, refusal);
    });
  });
}
