/**
 * FerryClient against Ferry's own server (session reuse required, CCC and PROT C allowed), over
 * explicit and implicit FTPS: the MS-FTPS client rules (implicit: no AUTH/PBSZ/PROT sent, CCC and
 * AUTH refused locally, REIN renegotiates TLS on the same TCP connection before the greeting),
 * AUTH SSL, CCC, PROT C, transfers with equal checksums, ABOR + resume, one request at a time.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { CertificateError } from '../../src/client/errors.js';
import { mirror } from '../../src/client/mirror.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { DialogueLog, randomFile, sha256, sha256File } from './helpers.js';

type Mode = 'explicit' | 'implicit';

describe('FerryClient with the Ferry server', { timeout: 180_000 }, () => {
  let ts: TestServer;
  let local: string;
  let ca: string;

  before(async () => {
    ts = await startFerry({ allowCcc: true, allowClearData: true });
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-client-ferry-'));
    ca = (await testCertificate()).cert;
  });

  after(async () => {
    await ts?.close();
    await rm(local, { recursive: true, force: true });
  });

  function connect(mode: Mode, extra: Partial<ClientOptions> = {}, log?: DialogueLog): Promise<FerryClient> {
    return FerryClient.connect({
      host: ts.host,
      port: mode === 'implicit' ? ts.implicitPort : ts.explicitPort,
      security: mode,
      user: ts.user,
      password: ts.password,
      ca,
      ...(log ? { log: log.log } : {}),
      ...extra,
    });
  }

  for (const mode of ['explicit', 'implicit'] as const) {
    describe(`${mode} FTPS`, () => {
      const dir = `d-${mode}`;

      before(async () => {
        await mkdir(path.join(ts.root, dir));
      });

      it('transfers 20 MB both ways with equal checksums, resuming the TLS session', async () => {
        const log = new DialogueLog();
        const client = await connect(mode, {}, log);
        try {
          const file = path.join(local, `big-${mode}.bin`);
          await randomFile(file, 20 * 1024 * 1024);
          const hash = await sha256File(file);
          await client.put(file, `${dir}/big.bin`);
          assert.equal(sha256(await readFile(path.join(ts.root, dir, 'big.bin'))), hash);
          const down = `${file}.down`;
          await client.get(`${dir}/big.bin`, down);
          assert.equal(await sha256File(down), hash);
          assert.ok(!log.includes('did not resume'), log.dump());
          const listed = await client.list(dir);
          assert.deepEqual(
            listed.map((e) => [e.name, e.type, e.size]),
            [['big.bin', 'file', 20 * 1024 * 1024]],
          );
          if (mode === 'implicit') {
            // MS-FTPS 3.1.5.1: PBSZ and PROT are implied, never sent; nor is AUTH.
            assert.ok(!log.lines.some((l) => /^> (AUTH|PBSZ|PROT)/.test(l)), log.dump());
          }
        } finally {
          await client.close();
        }
      });

      it('reinitializes (REIN) and keeps working on the same TCP connection', async () => {
        const log = new DialogueLog();
        const client = await connect(mode, {}, log);
        try {
          const port = client.tlsSocket?.localPort;
          await writeFile(path.join(local, 'rein.txt'), 'after rein');
          await client.reinitialize();
          assert.equal(client.tlsSocket?.localPort, port, 'same TCP connection');
          assert.equal(client.controlProtected, true);
          await client.put(path.join(local, 'rein.txt'), `${dir}/rein.txt`);
          assert.equal(await readFile(path.join(ts.root, dir, 'rein.txt'), 'utf8'), 'after rein');
          const after = log.lines.slice(log.lines.findIndex((l) => l === '> REIN'));
          if (mode === 'implicit') {
            // TLS again first, then the greeting; no AUTH, PBSZ or PROT.
            const tls = after.findIndex((l) => l.startsWith('* TLS established'));
            const greeting = after.findIndex((l, i) => i > 1 && l.startsWith('< 220'));
            assert.ok(tls > 0 && greeting > tls, after.join('\n'));
            assert.ok(!after.some((l) => /^> (AUTH|PBSZ|PROT)/.test(l)), after.join('\n'));
          } else {
            assert.ok(after.includes('> AUTH TLS'), after.join('\n'));
          }
        } finally {
          await client.close();
        }
      });

      it('moves data in clear with PROT C', async () => {
        const log = new DialogueLog();
        const client = await connect(mode, { dataProtection: 'clear' }, log);
        try {
          assert.equal(client.dataProtection, 'C');
          assert.ok(log.includes('> PROT C'));
          await writeFile(path.join(local, 'clear.txt'), 'in clear');
          await client.put(path.join(local, 'clear.txt'), `${dir}/clear.txt`);
          const out = path.join(local, `clear-${mode}.down`);
          await client.get(`${dir}/clear.txt`, out);
          assert.equal(await readFile(out, 'utf8'), 'in clear');
        } finally {
          await client.close();
        }
      });

      it('aborts a download with ABOR, stays usable and resumes', async () => {
        const file = path.join(local, `abort-${mode}.bin`);
        await randomFile(file, 16 * 1024 * 1024);
        await writeFile(path.join(ts.root, dir, 'abort.bin'), await readFile(file));
        const client = await connect(mode);
        try {
          const ac = new AbortController();
          const down = `${file}.down`;
          await assert.rejects(
            client.get(`${dir}/abort.bin`, down, {
              signal: ac.signal,
              onProgress: (p) => p.bytes > 2 * 1024 * 1024 && ac.abort(),
            }),
            (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
          );
          assert.equal(client.closed, false);
          const partial = (await stat(down)).size;
          const r = await client.get(`${dir}/abort.bin`, down, { resume: true });
          assert.equal(r.offset, partial);
          assert.equal(await sha256File(down), await sha256File(file));
        } finally {
          await client.close();
        }
      });

      it('resumes an upload with APPE at the remote size (no REST + STOR); the file is whole', async () => {
        const file = path.join(local, `up-resume-${mode}.bin`);
        await randomFile(file, 3 * 1024 * 1024 + 5);
        const data = await readFile(file);
        await writeFile(path.join(ts.root, dir, 'up-resume.bin'), data.subarray(0, 1024 * 1024));
        const log = new DialogueLog();
        const client = await connect(mode, {}, log);
        try {
          const r = await client.put(file, `${dir}/up-resume.bin`, { resume: true });
          assert.equal(r.offset, 1024 * 1024);
          assert.ok(log.includes(`> APPE ${dir}/up-resume.bin`) && !log.includes('> REST'), log.dump());
          assert.ok((await readFile(path.join(ts.root, dir, 'up-resume.bin'))).equals(data));
        } finally {
          await client.close();
        }
      });

      it('put -c onto a file whose last upload was cut (the old version left) uploads the file whole', async () => {
        const remote = `${dir}/cut-resume.bin`;
        const stored = path.join(ts.root, dir, 'cut-resume.bin');
        const [oldFile, newFile] = [
          path.join(local, `cut-old-${mode}.bin`),
          path.join(local, `cut-new-${mode}.bin`),
        ];
        await randomFile(oldFile, 1024 * 1024);
        await randomFile(newFile, 20 * 1024 * 1024);
        const cutter = await connect(mode);
        try {
          await cutter.put(oldFile, remote);
          const stop = new AbortController();
          const onProgress = (p: { bytes: number }): void => {
            if (p.bytes > 0) stop.abort();
          };
          await assert.rejects(cutter.put(newFile, remote, { signal: stop.signal, onProgress }));
        } finally {
          await cutter.close();
        }
        assert.equal(
          await sha256File(stored),
          await sha256File(oldFile),
          'the cut upload left the old version',
        );
        const log = new DialogueLog();
        const client = await connect(mode, {}, log);
        try {
          const r = await client.put(newFile, remote, { resume: true });
          assert.equal(r.offset, 0, log.dump());
          // The server gives no size of the version the cut left (it gave the old size, then 451 to
          // the APPE, before): the file is sent whole at once.
          assert.ok(log.includes('< 504 Size not given') && log.includes(`> STOR ${remote}`), log.dump());
          assert.ok(!log.includes('> APPE'), log.dump());
          assert.equal(await sha256File(stored), await sha256File(newFile), 'the new file, whole');
        } finally {
          await client.close();
        }
      });

      it('refuses a second request while one runs (ERR_BUSY)', async () => {
        const client = await connect(mode);
        try {
          const first = client.list(dir);
          await assert.rejects(
            client.list(dir),
            (err: unknown) => err instanceof FerryError && err.code === 'ERR_BUSY',
          );
          await first;
        } finally {
          await client.close();
        }
      });

      it('mirrors a tree up and back down in parallel', async () => {
        const src = path.join(local, `tree-${mode}`);
        await mkdir(path.join(src, 'a', 'b'), { recursive: true });
        for (let i = 0; i < 6; i++) await writeFile(path.join(src, 'a', `f${i}.txt`), `file ${i}`);
        await writeFile(path.join(src, 'a', 'b', 'deep.txt'), 'deep');
        const client = await connect(mode);
        try {
          const up = await mirror(client, {
            direction: 'upload',
            local: src,
            remote: `${dir}/tree`,
            parallel: 3,
            connect: () => connect(mode),
          });
          assert.equal(up.transferred, 7);
          const dst = path.join(local, `tree-${mode}-down`);
          const down = await mirror(client, {
            direction: 'download',
            local: dst,
            remote: `${dir}/tree`,
            parallel: 3,
            connect: () => connect(mode),
          });
          assert.equal(down.transferred, 7);
          assert.equal(await readFile(path.join(dst, 'a', 'b', 'deep.txt'), 'utf8'), 'deep');
          const again = await mirror(client, { direction: 'upload', local: src, remote: `${dir}/tree` });
          assert.equal(again.transferred, 0);
        } finally {
          await client.close();
        }
      });
    });
  }

  it('explicit: AUTH SSL (MS-FTPS 3.1.5.4)', async () => {
    const log = new DialogueLog();
    const client = await connect('explicit', { authMechanism: 'SSL' }, log);
    try {
      assert.ok(log.includes('> AUTH SSL'));
      assert.equal(client.controlProtected, true);
      assert.ok((await client.list('')).length > 0);
    } finally {
      await client.close();
    }
  });

  it('explicit: CCC returns the control connection to clear, data stays protected', async () => {
    const log = new DialogueLog();
    const client = await connect('explicit', {}, log);
    try {
      await client.ccc();
      assert.equal(client.controlProtected, false);
      assert.equal(client.dataProtection, 'P');
      await writeFile(path.join(local, 'ccc.txt'), 'after ccc');
      await client.put(path.join(local, 'ccc.txt'), 'ccc.txt');
      const out = path.join(local, 'ccc.down');
      await client.get('ccc.txt', out);
      assert.equal(await readFile(out, 'utf8'), 'after ccc');
      const r = await client.send('NOOP');
      assert.equal(r.code, 200);
    } finally {
      await client.close();
    }
  });

  it('implicit: refuses to send CCC or AUTH (MS-FTPS 3.1.5.2, 3.1.5.6)', async () => {
    const log = new DialogueLog();
    const client = await connect('implicit', {}, log);
    try {
      await assert.rejects(
        client.ccc(),
        (err: unknown) =>
          err instanceof FerryError && err.code === 'ERR_USAGE' && /implicit/.test(err.message),
      );
      await assert.rejects(
        client.send('AUTH TLS'),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_USAGE',
      );
      await assert.rejects(
        client.send('auth ssl'),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_USAGE',
      );
      assert.ok(!log.lines.some((l) => /^> (AUTH|CCC)/.test(l)), log.dump());
      assert.equal((await client.send('NOOP')).code, 200);
    } finally {
      await client.close();
    }
  });

  it('refuses TYPE, MODE and STRU sent raw: a TYPE A would corrupt later binary transfers', async () => {
    const log = new DialogueLog();
    const client = await connect('explicit', {}, log);
    try {
      for (const line of ['TYPE A', 'type a n', 'MODE B', 'STRU R']) {
        await assert.rejects(
          client.send(line),
          (err: unknown) =>
            err instanceof FerryError && err.code === 'ERR_USAGE' && /binary/.test(err.message),
        );
      }
      assert.ok(!log.lines.some((l) => /^> (TYPE A|MODE|STRU)/i.test(l)), log.dump());
      // Line ends travel unchanged both ways: the session is still in TYPE I.
      await writeFile(path.join(local, 'type.txt'), 'a\nb\n');
      await client.put(path.join(local, 'type.txt'), 'type.txt');
      assert.equal(await readFile(path.join(ts.root, 'type.txt'), 'utf8'), 'a\nb\n');
      const out = path.join(local, 'type.down');
      await client.get('type.txt', out);
      assert.equal(await readFile(out, 'utf8'), 'a\nb\n');
    } finally {
      await client.close();
    }
  });

  it('pins the server certificate by fingerprint and refuses another', async () => {
    const fp = ts.server.fingerprints[0] ?? '';
    const pinned = await connect('implicit', { ca: undefined, fingerprints: [`sha256:${fp}`] });
    await pinned.close();
    await assert.rejects(
      connect('explicit', { ca: undefined, fingerprints: [`sha256:${'AB:'.repeat(31)}AB`] }),
      (err: unknown) => err instanceof CertificateError && err.problem === 'fingerprint-mismatch',
    );
    await assert.rejects(
      connect('explicit', { ca: undefined }),
      (err: unknown) => err instanceof CertificateError && err.problem === 'untrusted',
    );
  });

  it('over IPv6, disableEpsv fails the transfer naming the option (not a refusal of EPSV)', async () => {
    // It said "The server refused EPSV", though EPSV was never sent.
    const six = await startFerry({ explicit: false, implicit: { host: '::1', port: 0 } });
    const log = new DialogueLog();
    const client = await FerryClient.connect({
      host: '::1',
      port: six.implicitPort,
      security: 'implicit',
      user: six.user,
      password: six.password,
      servername: 'localhost',
      ca,
      disableEpsv: true,
      log: log.log,
    });
    try {
      await assert.rejects(
        client.list(''),
        (err: unknown) =>
          err instanceof FerryError &&
          err.code === 'ERR_DATA_CONNECTION' &&
          /^EPSV is disabled \(--disable-epsv\), and PASV cannot work over IPv6/.test(err.message),
      );
      assert.ok(!log.lines.some((l) => /^> (EPSV|PASV)/.test(l)), log.dump());
    } finally {
      await client.close();
      await six.close();
    }
  });

  it("a server that says 421 and closes: the client's closedReason carries the 421", async () => {
    const own = await startFerry();
    let onClosed: () => void = () => {};
    const closedLogged = new Promise<void>((resolve) => (onClosed = resolve));
    const client = await FerryClient.connect({
      host: own.host,
      port: own.explicitPort,
      security: 'explicit',
      user: own.user,
      password: own.password,
      ca,
      log: (e) => {
        if (e.kind === 'info' && e.text.startsWith('Connection closed')) onClosed();
      },
    });
    try {
      await own.close(); // 421 Server shutting down., then the server closes
      await closedLogged;
      assert.ok(client.closed);
      assert.match(client.closedReason?.message ?? '', /421 Server shutting down/);
      await assert.rejects(client.send('NOOP'), /421 Server shutting down/);
    } finally {
      await client.close();
    }
  });
});
