/**
 * A server's file name with a backslash (`back\slash.txt`, here on vsftpd): on a system whose path
 * separator is `/`, a plain character, so `ferry get` of a pattern takes it as `ferry mirror` does
 * (get alone refused it as unsafe); a `/` or `..` is refused by both (test/client/hostile-servers).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { ferry } from '../client/helpers.js';

describe('a remote name with a backslash', { skip: path.sep !== '/', timeout: 60_000 }, () => {
  let peer: FtpsPeer;
  let dir: string;
  let url: string;
  let env: Record<string, string>;
  let ca: string[];

  before(async () => {
    peer = await startVsftpd();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-backslash-'));
    await peer.putFile('d/back\\slash.txt', 'b');
    await peer.putFile('d/plain.txt', 'p');
    url = `ftpes://${peer.user}@${peer.host}:${peer.port}/d`;
    env = { HOME: dir, FERRY_PASSWORD: peer.password };
    ca = ['--ca', peer.certificate.certFile];
  });
  after(async () => {
    await peer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const command of ['get', 'mirror'] as const)
    it(`ferry ${command} downloads it under its name`, async () => {
      const into = path.join(dir, command);
      await mkdir(into);
      const r = await ferry([command, ...ca, command === 'get' ? `${url}/*` : url, into], env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await readdir(into)).sort(), ['back\\slash.txt', 'plain.txt']);
      assert.equal(await readFile(path.join(into, 'back\\slash.txt'), 'utf8'), 'b');
    });
});
