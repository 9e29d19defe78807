/**
 * Proves the interop harness: each real peer (test/support/peers.ts) starts on loopback, takes an
 * upload from real clients (test/support/clients.ts), lists it, gives it back byte for byte, and
 * stops without leaving processes, ports or temporary directories behind.
 *
 * Nothing is skipped: a peer that cannot run here fails its suite with the reason (run
 * `bash scripts/setup-peers.sh` as root first).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  curlDownload,
  curlList,
  curlUpload,
  expectFtplibOk,
  expectSuccess,
  ftplib,
  lftp,
  type FtplibResult,
} from '../support/clients.js';
import { startProftpd, startPureFtpd, startPyftpdlib, startVsftpd, type FtpsPeer } from '../support/peers.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

interface PeerCase {
  readonly title: string;
  readonly start: () => Promise<FtpsPeer>;
  /** curl cannot transfer with pyftpdlib (it drops data connections whose ClientHello comes early). */
  readonly curl: boolean;
  readonly lftp: boolean;
  readonly ftplib: boolean;
  /** The server refuses data connections that do not resume the control TLS session. */
  readonly requiresReuse: boolean;
}

const cases: readonly PeerCase[] = [
  {
    title: 'vsftpd explicit',
    start: () => startVsftpd(),
    curl: true,
    lftp: true,
    ftplib: true,
    requiresReuse: true,
  },
  {
    title: 'vsftpd implicit',
    start: () => startVsftpd({ implicit: true }),
    curl: true,
    lftp: false,
    ftplib: true,
    requiresReuse: true,
  },
  {
    title: 'proftpd explicit',
    start: () => startProftpd(),
    curl: true,
    lftp: false,
    ftplib: false,
    requiresReuse: true,
  },
  {
    title: 'proftpd implicit',
    start: () => startProftpd({ implicit: true }),
    curl: true,
    lftp: true,
    ftplib: true,
    requiresReuse: true,
  },
  {
    title: 'pure-ftpd explicit',
    start: () => startPureFtpd(),
    curl: true,
    lftp: false,
    ftplib: false,
    requiresReuse: false,
  },
  {
    title: 'pyftpdlib explicit',
    start: () => startPyftpdlib(),
    curl: false,
    lftp: true,
    ftplib: true,
    requiresReuse: false,
  },
];

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'ESRCH';
  }
}

// The peers are independent (own ports and directories): check them side by side.
describe('interop peers selfcheck', { concurrency: true }, () => {
  for (const c of cases) {
    describe(c.title, { timeout: 120_000, concurrency: 1 }, () => {
      let peer: FtpsPeer | undefined;
      let work = '';
      let content: Buffer = Buffer.alloc(0);
      let localFile = '';

      const started = (): FtpsPeer => {
        assert.ok(peer, 'peer did not start (see the before hook error)');
        return peer;
      };

      before(async () => {
        work = await mkdtemp(path.join(os.tmpdir(), 'ferry-selfcheck-'));
        // > 114,688 bytes: vsftpd's TLS 1.3 upload failure cut files at that size
        content = randomBytes(300_000 + Math.floor(Math.random() * 4096));
        localFile = path.join(work, 'random.bin');
        await writeFile(localFile, content);
        peer = await c.start();
      });

      after(async () => {
        await peer?.stop();
        if (work) await rm(work, { recursive: true, force: true });
      });

      it('greets with 220 and serves a temporary root', () => {
        const p = started();
        assert.match(p.greeting, /^220/m);
        assert.equal(p.host, '127.0.0.1');
        assert.ok(existsSync(p.root), 'root exists');
      });

      if (c.curl) {
        it('curl: upload, list, download (same sha256)', async () => {
          const p = started();
          expectSuccess(await curlUpload(p, localFile, '/curl up.bin'), 'curl upload');
          assert.equal(
            sha256(await readFile(path.join(p.root, 'curl up.bin'))),
            sha256(content),
            'stored bytes',
          );
          const list = expectSuccess(await curlList(p, '/'), 'curl list');
          assert.match(list.stdout, /curl up\.bin/);
          const down = path.join(work, 'curl-down.bin');
          expectSuccess(await curlDownload(p, '/curl up.bin', down), 'curl download');
          assert.equal(sha256(await readFile(down)), sha256(content));
        });
      }

      if (c.lftp) {
        it('lftp: put, ls, get (same sha256)', async () => {
          const p = started();
          const r = expectSuccess(
            await lftp(p, ['put random.bin -o lftp.bin', 'ls', 'get lftp.bin -o lftp-down.bin'], {
              cwd: work,
            }),
            'lftp',
          );
          assert.match(r.stdout, /lftp\.bin/);
          assert.equal(
            sha256(await readFile(path.join(p.root, 'lftp.bin'))),
            sha256(content),
            'stored bytes',
          );
          assert.equal(sha256(await readFile(path.join(work, 'lftp-down.bin'))), sha256(content));
        });
      }

      if (c.ftplib) {
        it('ftplib: upload, list, size, rest-download, rename, mkd/rmd, delete', async () => {
          const p = started();
          const offset = 123_457;
          const run = expectFtplibOk(
            await ftplib(p, [
              { op: 'login' },
              { op: 'upload', local: localFile, remote: 'py.bin' },
              { op: 'list' },
              { op: 'size', path: 'py.bin' },
              { op: 'download', remote: 'py.bin', local: path.join(work, 'py-down.bin') },
              { op: 'download', remote: 'py.bin', local: path.join(work, 'py-tail.bin'), offset },
              { op: 'mkd', path: 'sub' },
              { op: 'rename', from: 'py.bin', to: 'sub/renamed.bin' },
              { op: 'nlst', path: 'sub' },
              { op: 'delete', path: 'sub/renamed.bin' },
              { op: 'rmd', path: 'sub' },
              { op: 'quit' },
            ]),
          );
          const byOp = (op: FtplibResult['op'], n = 0): FtplibResult => {
            const r = run.results.filter((x) => x.op === op)[n];
            assert.ok(r, `no ${op} result`);
            return r;
          };
          assert.equal(byOp('upload').sha256, sha256(content));
          assert.ok(
            byOp('list').lines?.some((l) => l.endsWith('py.bin')),
            'LIST shows py.bin',
          );
          assert.equal(byOp('size').size, content.length);
          assert.equal(byOp('download').sha256, sha256(content));
          assert.equal(sha256(await readFile(path.join(work, 'py-down.bin'))), sha256(content));
          assert.equal(byOp('download', 1).bytes, content.length - offset);
          assert.equal(byOp('download', 1).sha256, sha256(content.subarray(offset)));
          assert.ok(
            byOp('nlst').lines?.some((l) => l.endsWith('renamed.bin')),
            'NLST shows renamed.bin',
          );
          assert.equal(existsSync(path.join(p.root, 'sub')), false, 'sub removed');
          if (c.requiresReuse)
            assert.equal(byOp('upload').sessionReused, true, 'data TLS resumed the session');
        });
      }

      if (c.requiresReuse && c.ftplib) {
        it('refuses ftplib data connections that do not resume the TLS session', async () => {
          const p = started();
          const run = await ftplib(p, [{ op: 'login' }, { op: 'list' }], { reuseSession: false });
          assert.equal(run.ok, false, 'LIST without session reuse must fail');
          assert.equal(run.results[0]?.ok, true, 'login works');
        });
      }

      it('stop() ends the processes, frees the port and removes the temporary directory', async () => {
        const p = started();
        await p.stop();
        await p.stop(); // idempotent
        assert.equal(processGone(p.pid), true, `pid ${p.pid} gone`);
        assert.equal(existsSync(p.dir), false, `${p.dir} removed`);
        assert.equal(await connectRefused(p.port), true, `port ${p.port} closed`);
      });
    });
  }
});
