/**
 * vsftpd on implicit FTPS refuses a connection over its per-address limit (max_per_ip) with a
 * clear-text `421 There are too many connections from your internet address.` where the TLS
 * handshake was due: the client reports that refusal (exit 3, a ConnectionError a --parallel run
 * goes on without), not an explicit FTPS port (exit 4).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { ConnectionError } from '../../src/client/errors.js';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, ferry } from '../client/helpers.js';

describe('vsftpd (implicit) refusing a connection over max_per_ip', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let local: string;
  let url: string;
  let env: Record<string, string>;
  let ca: string[];

  before(async () => {
    peer = await startVsftpd({ implicit: true, extraConfig: { max_per_ip: '1' } });
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-max-per-ip-'));
    for (const n of ['a.txt', 'b.txt', 'c.txt']) await peer.putFile(`d/${n}`, n);
    url = `ftps://${peer.user}@${peer.host}:${peer.port}/d`;
    env = { HOME: local, FERRY_PASSWORD: peer.password };
    ca = ['--ca', peer.certificate.certFile];
  });
  after(async () => {
    await peer?.stop();
    await rm(local, { recursive: true, force: true });
  });

  it('--parallel goes on with the connection it has, naming the 421', async () => {
    const into = path.join(local, 'got');
    await mkdir(into);
    const r = await ferry(['get', ...ca, '--parallel', '2', `${url}/*`, into], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(
      r.stderr,
      /Could not open another connection \(going on with fewer\): The server refused the connection: 421 There are too many connections/,
    );
    assert.deepEqual((await readdir(into)).sort(), ['a.txt', 'b.txt', 'c.txt']);
  });

  describe('while another connection is open', () => {
    let first: FerryClient;
    before(async () => {
      first = await connectToPeer(peer);
    });
    after(() => first?.close());

    it('connect() rejects with the 421 as a ConnectionError', async () => {
      await assert.rejects(connectToPeer(peer), (err: unknown) => {
        assert.ok(err instanceof ConnectionError, String(err));
        assert.equal(err.code, 'ERR_CLOSED');
        assert.match(err.message, /^The server refused the connection: 421 There are too many connections/);
        return true;
      });
    });

    it('ferry ls says so, exit 3', async () => {
      const r = await ferry(['ls', ...ca, url], env);
      assert.equal(r.code, EXIT.connection, r.stderr);
      assert.match(r.stderr, /refused the connection: 421 There are too many connections/);
      assert.doesNotMatch(r.stderr, /ftpes:\/\//);
    });
  });
});
