import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { generateSelfSigned } from '../tls/certificates.js';
import { readCaFile } from './ca-file.js';
import { EXIT, exitCodeFor } from './client-exit-codes.js';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

/** A --ca file that trusts nothing: Node skipped it without a word, and the server was "not trusted". */
describe('--ca FILE must hold a certificate', () => {
  let dir = '';
  let pem = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-ca-file-'));
    pem = (await generateSelfSigned('localhost', 'ecdsa')).cert;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const usage = (file: string, message: RegExp) => (err: unknown) => {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(exitCodeFor(err), EXIT.usage);
    assert.ok(err.message.includes(file), err.message);
    assert.match(err.message, message);
    return true;
  };

  it('refuses a file without a PEM certificate, or with one that cannot be read', async () => {
    const text = path.join(dir, 'hostname');
    await writeFile(text, 'myhost\n');
    await assert.rejects(readCaFile(text), usage(text, /holds no PEM certificate/));
    const broken = path.join(dir, 'broken.pem');
    await writeFile(broken, `${pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    await assert.rejects(readCaFile(broken), usage(broken, /certificate 2 cannot be read/));
    const missing = path.join(dir, 'missing.pem');
    await assert.rejects(readCaFile(missing), usage(missing, /Cannot read --ca/));
  });

  it('takes a file of certificates, text around them allowed (as a CA bundle has)', async () => {
    const bundle = path.join(dir, 'bundle.pem');
    await writeFile(bundle, `# our CA\n${pem}\nsubject=whatever\n${pem}`);
    assert.ok((await readCaFile(bundle)).toString().includes(pem));
  });

  it('the CLI exits with the usage code before it connects', async () => {
    const text = path.join(dir, 'hostname');
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    server.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as net.AddressInfo;
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [MAIN, 'ls', '--ca', text, `ftps://u:p@127.0.0.1:${port}/`],
          { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir } },
          (error, _stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
        ),
      );
      assert.equal(r.code, EXIT.usage, r.stderr);
      assert.match(r.stderr, new RegExp(`--ca ${text} holds no PEM certificate`));
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });
});
