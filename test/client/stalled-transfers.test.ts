// `--timeout S` against servers that stall mid-transfer: one that sends 1000 bytes of a download
// then nothing, one that reads 1000 bytes of an upload then stops reading (its data waits in the
// kernel's buffers). Each is given up S seconds after it stopped, with the stall named: not after
// a second wait for the transfer's reply (2×S for a download, 3×S for an upload).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ServeProcess } from '../support/ferry-process.js';
import { testCertificate } from '../support/ferry.js';
import { ferry, randomFile } from './helpers.js';
import { StallingFtp } from './support/stalling-ftp.js';

describe('--timeout S gives up a stalled transfer after S seconds', () => {
  let tmp = '';
  const env = { FERRY_PASSWORD: 'p' };
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-stalled-'));
    // More than the loopback socket buffers hold (client's send buffer, server's receive buffer).
    await randomFile(path.join(tmp, 'up.bin'), 48 * 1024 * 1024);
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  for (const command of ['get', 'put'] as const) {
    it(`${command}: the server stops moving the data after 1000 bytes`, { timeout: 60_000 }, async () => {
      const server = await new StallingFtp().listen();
      try {
        const url = `ftp://u@127.0.0.1:${server.port}`;
        const args =
          command === 'get'
            ? ['get', `${url}/down.bin`, path.join(tmp, 'down.bin')]
            : ['put', path.join(tmp, 'up.bin'), `${url}/up.bin`];
        const r = await ferry([...args, '--allow-plain', '--quiet', '--retry', '0', '--timeout', '4'], env);
        const waited = Date.now() - (server.stalledAt ?? NaN);
        assert.equal(r.code, EXIT.transfer, `exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, /The data connection stalled: no traffic for 4000 ms\./);
        // S after the stall, not 2×S or 3×S (what a second full wait for the reply added); the
        // margin is for a busy machine.
        assert.ok(waited < 7000, `given up ${waited} ms after the stall`);
      } finally {
        await server.close();
      }
    });
  }
});

// An upload's last bytes wait in the kernel's buffers (megabytes on loopback) for as long as the
// server takes to read them: a server that reads slowly but steadily is not a stalled one, however
// short --timeout is. A Ferry user held to 512 KB/s takes 4 MB in ~8 s, most of it after the client
// has sent its last byte; --timeout 3 cut it there (exit 3, and the server threw the upload away).
it(
  'put --timeout 3: an upload the server reads slowly (Ferry, uploadRate 512KB/s) completes',
  { timeout: 60_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-slow-upload-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pair = await testCertificate();
    const [ca, key, config, root, file] = ['cert.pem', 'key.pem', 'ferry.yaml', 'root', 'up.bin'].map((f) =>
      path.join(dir, f),
    ) as [string, string, string, string, string];
    await writeFile(ca, pair.cert);
    await writeFile(key, pair.key);
    await writeFile(config, 'userDefaults:\n  uploadRate: 512KB/s\n');
    await mkdir(root);
    await randomFile(file, 4 * 1024 * 1024);
    const server = await ServeProcess.start(
      [
        '--workers',
        '1',
        '--root',
        root,
        '--user',
        'alice:secret',
        '--cert',
        ca,
        '--key',
        key,
        '--config',
        config,
      ],
      dir,
    );
    t.after(() => server.stop('SIGKILL'));
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/up.bin`;
    const r = await ferry(['put', file, url, '--ca', ca, '--quiet', '--retry', '0', '--timeout', '3'], {
      FERRY_PASSWORD: 'secret',
    });
    assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);
    assert.ok(
      (await readFile(path.join(root, 'up.bin'))).equals(await readFile(file)),
      'the whole file stored',
    );
  },
);
