/**
 * FerryClient against real FTPS servers from Debian packages (test/support/peers.ts): vsftpd
 * (explicit and implicit, require_ssl_reuse=YES), ProFTPD + mod_tls (explicit and implicit, session
 * reuse required), Pure-FTPd (explicit), pyftpdlib TLS_FTPHandler (explicit). Certificates are
 * verified against the peer's CA file (host 127.0.0.1 in the SAN). Nothing is skipped: a peer that
 * cannot run here fails with the reason (run `bash scripts/setup-peers.sh` as root).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { FerryError, ReplyError } from '../../src/errors.js';
import { startProftpd, startPureFtpd, startPyftpdlib, startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, randomFile, sha256, sha256File, withPeerLog } from './helpers.js';

interface PeerCase {
  readonly title: string;
  readonly start: () => Promise<FtpsPeer>;
  /** Data connections must resume the control TLS session. */
  readonly requiresReuse: boolean;
  /** Pure-FTPd drops command lines with bytes above 127 (no reply at all). */
  readonly nonAscii: boolean;
  /** Active mode (EPRT/PORT) is enabled on the peer. */
  readonly active: boolean;
  /** The server issues TLS 1.3 session tickets on the control connection. */
  readonly sendsTickets: boolean;
}

const cases: readonly PeerCase[] = [
  {
    title: 'vsftpd explicit',
    start: () => startVsftpd(),
    requiresReuse: true,
    nonAscii: true,
    active: true,
    sendsTickets: true,
  },
  {
    title: 'vsftpd implicit',
    start: () => startVsftpd({ implicit: true }),
    requiresReuse: true,
    nonAscii: true,
    active: true,
    sendsTickets: true,
  },
  {
    title: 'proftpd explicit',
    start: () => startProftpd(),
    requiresReuse: true,
    nonAscii: true,
    active: true,
    sendsTickets: true,
  },
  {
    title: 'proftpd implicit',
    start: () => startProftpd({ implicit: true }),
    requiresReuse: true,
    nonAscii: true,
    active: true,
    sendsTickets: true,
  },
  {
    title: 'pure-ftpd explicit',
    start: () => startPureFtpd(),
    requiresReuse: false,
    nonAscii: false,
    active: true,
    sendsTickets: false,
  },
  {
    title: 'pyftpdlib explicit',
    start: () => startPyftpdlib(),
    requiresReuse: false,
    nonAscii: true,
    active: true,
    sendsTickets: true,
  },
];

const BIG = 20 * 1024 * 1024;

for (const c of cases) {
  describe(`FerryClient with ${c.title}`, { timeout: 240_000 }, () => {
    let peer: FtpsPeer;
    let client: FerryClient;
    let local: string;
    let bigFile: string;
    let bigHash: string;
    const log = new DialogueLog();

    before(async () => {
      local = await mkdtemp(path.join(os.tmpdir(), 'ferry-client-'));
      bigFile = path.join(local, 'big.bin');
      await randomFile(bigFile, BIG);
      bigHash = await sha256File(bigFile);
      peer = await c.start();
      client = await connectToPeer(peer, {}, log);
    });

    after(async () => {
      await client?.close();
      await peer?.stop();
      await rm(local, { recursive: true, force: true });
    });

    const withLog = <T>(fn: () => Promise<T>): Promise<T> => withPeerLog(c.title, peer, log, fn);

    it('logs in over TLS with a verified certificate and reads FEAT', async () => {
      assert.equal(client.controlProtected, true);
      assert.equal(client.dataProtection, 'P');
      assert.ok(client.features.size > 0, 'FEAT gave features');
      assert.equal(client.mode, peer.implicit ? 'implicit' : 'explicit');
    });

    it('uploads and downloads a 20 MB random file with equal checksums', () =>
      withLog(async () => {
        const up = await client.put(bigFile, 'big.bin');
        assert.equal(up.bytes, BIG);
        assert.equal(
          sha256(await readFile(path.join(peer.root, 'big.bin'))),
          bigHash,
          'the server has the same bytes',
        );
        const down = path.join(local, 'big.down');
        const got = await client.get('big.bin', down);
        assert.equal(got.bytes, BIG);
        assert.equal(await sha256File(down), bigHash);
        if (c.requiresReuse)
          assert.ok(!log.includes('did not resume'), 'data connections resumed the TLS session');
      }));

    it('has the TLS 1.3 session ticket before the first transfer, without waiting for one', () =>
      withLog(async () => {
        // Tickets come as the handshake ends, before any reply: by the first data connection a
        // server's ticket is in, and one that sends none (Pure-FTPd) is known not to.
        const missed = log.includes('sent no TLS 1.3 session ticket');
        assert.equal(missed, !c.sendsTickets, log.dump());
      }));

    it('lists a directory with odd names and stats a file', () =>
      withLog(async () => {
        const names = [
          'with space.txt',
          'quote"d\'.txt',
          '-leading-dash.txt',
          ...(c.nonAscii ? ['ünïcødé-名前.txt'] : []),
        ];
        await client.mkdir('odd');
        for (const [i, n] of names.entries()) {
          await client.put(await tmpFile(local, `odd-${i}`, 'x'.repeat(i + 1)), `odd/${n}`);
        }
        const entries = await client.list('odd');
        assert.deepEqual(entries.map((e) => e.name).sort(), [...names].sort());
        for (const [i, n] of names.entries()) {
          const e = entries.find((x) => x.name === n);
          assert.equal(e?.type, 'file');
          assert.equal(e?.size, i + 1, `size of ${n}`);
        }
        const s = await client.stat('odd/with space.txt');
        assert.equal(s.type, 'file');
        assert.equal(s.size, 1);
        assert.ok(
          Math.abs(s.modified.getTime() - Date.now()) < 10 * 60_000,
          `mtime ${s.modified.toISOString()} is recent`,
        );
        const dir = await client.stat('odd');
        assert.equal(dir.type, 'dir');
        // Without MLST nothing tells a directory's size (SIZE refuses it): unknown, not 0.
        if (!client.features.has('MLST')) assert.equal(dir.size, null);
        await assert.rejects(
          client.stat('odd/missing'),
          (err: unknown) => err instanceof ReplyError && err.replyCode >= 500,
        );
      }));

    it('makes directories with parents, renames, chmods and removes recursively', () =>
      withLog(async () => {
        await client.mkdir('p/q/r', { parents: true });
        await client.mkdir('p/q/r', { parents: true }); // exists: fine with parents
        await assert.rejects(client.mkdir('p/q/r'), ReplyError);
        await client.put(await tmpFile(local, 'f1', 'hello'), 'p/q/r/f.txt');
        await client.rename('p/q/r/f.txt', 'p/q/g.txt');
        assert.deepEqual((await client.list('p/q')).map((e) => e.name).sort(), ['g.txt', 'r']);
        await client.chmod('p/q/g.txt', 0o600);
        const mode = (await stat(path.join(peer.root, 'p/q/g.txt'))).mode & 0o777;
        assert.equal(mode, 0o600);
        await assert.rejects(client.remove('p'), ReplyError);
        await client.remove('p', { recursive: true });
        assert.ok(!(await client.list('')).some((e) => e.name === 'p'));
      }));

    it('resumes an interrupted download (ABOR) and an interrupted upload', () =>
      withLog(async () => {
        await peer.putFile('resume.bin', await readFile(bigFile));
        const down = path.join(local, 'resume.down');
        const ac = new AbortController();
        await assert.rejects(
          client.get('resume.bin', down, {
            signal: ac.signal,
            onProgress: (p) => {
              if (p.bytes >= 3 * 1024 * 1024) ac.abort();
            },
          }),
          (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
        );
        const partial = (await stat(down)).size;
        assert.ok(partial > 0 && partial < BIG, `partial download (${partial} bytes)`);
        assert.ok(!client.closed, `the connection survived ABOR: ${client.closedReason?.message ?? ''}`);
        const r = await client.get('resume.bin', down, { resume: true });
        assert.equal(r.offset, partial);
        assert.equal(r.bytes, BIG - partial);
        assert.equal(await sha256File(down), bigHash);

        // Upload: the remote file holds a prefix; resume appends the rest (APPE).
        await peer.putFile('up-resume.bin', (await readFile(bigFile)).subarray(0, 5_000_000));
        const u = await client.put(bigFile, 'up-resume.bin', { resume: true });
        assert.equal(u.offset, 5_000_000);
        assert.equal(sha256(await readFile(path.join(peer.root, 'up-resume.bin'))), bigHash);
      }));

    it('resumes an upload interrupted with ABOR', () =>
      withLog(async () => {
        const ac = new AbortController();
        await assert.rejects(
          client.put(bigFile, 'up-abort.bin', {
            signal: ac.signal,
            onProgress: (p) => {
              if (p.bytes >= 4 * 1024 * 1024) ac.abort();
            },
          }),
          (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
        );
        assert.ok(!client.closed, `the connection survived ABOR: ${client.closedReason?.message ?? ''}`);
        const partial = (await stat(path.join(peer.root, 'up-abort.bin'))).size;
        assert.ok(partial < BIG, `partial upload (${partial} bytes)`);
        const r = await client.put(bigFile, 'up-abort.bin', { resume: true });
        assert.equal(r.offset, partial);
        assert.equal(sha256(await readFile(path.join(peer.root, 'up-abort.bin'))), bigHash);
      }));

    it('appends to a remote file (APPE)', () =>
      withLog(async () => {
        await client.put(await tmpFile(local, 'a1', 'abc'), 'append.txt');
        await client.put(await tmpFile(local, 'a2', 'def'), 'append.txt', { append: true });
        assert.equal(await readFile(path.join(peer.root, 'append.txt'), 'utf8'), 'abcdef');
      }));

    if (c.active) {
      it('transfers in active mode (EPRT/PORT)', () =>
        withLog(async () => {
          const active = await connectToPeer(peer, { dataMode: 'active' }, log);
          try {
            await active.put(await tmpFile(local, 'act', 'active data'), 'active.txt');
            const out = path.join(local, 'active.down');
            await active.get('active.txt', out);
            assert.equal(await readFile(out, 'utf8'), 'active data');
            assert.ok((await active.list('')).some((e) => e.name === 'active.txt'));
          } finally {
            await active.close();
          }
        }));
    }

    it('falls back to PASV when EPSV is not used', () =>
      withLog(async () => {
        const pasv = await connectToPeer(peer, { disableEpsv: true }, log);
        try {
          await pasv.put(await tmpFile(local, 'pasv', 'over PASV'), 'pasv.txt');
          assert.equal(await readFile(path.join(peer.root, 'pasv.txt'), 'utf8'), 'over PASV');
          assert.ok(log.includes('> PASV'));
        } finally {
          await pasv.close();
        }
      }));

    it('mirrors a tree up and down, then only what changed, with --delete', () =>
      withLog(async () => {
        const src = path.join(local, 'tree');
        await mkdir(path.join(src, 'sub', 'deeper'), { recursive: true });
        await writeFile(path.join(src, 'a.txt'), 'alpha');
        await writeFile(path.join(src, 'sub', 'b.txt'), 'bravo');
        await writeFile(path.join(src, 'sub', 'deeper', 'c.bin'), Buffer.alloc(70_000, 3));
        await writeFile(path.join(src, 'sub', 'with space.txt'), 'space');
        const up1 = await mirror(client, { direction: 'upload', local: src, remote: 'mirror' });
        assert.equal(up1.transferred, 4);
        assert.equal(
          await readFile(path.join(peer.root, 'mirror/sub/deeper/c.bin'), 'utf8'),
          Buffer.alloc(70_000, 3).toString(),
        );
        const up2 = await mirror(client, { direction: 'upload', local: src, remote: 'mirror' });
        assert.equal(up2.transferred, 0, 'nothing changed');
        assert.equal(up2.unchanged, 4);
        assert.equal(up2.skipped, 4, 'unchanged files count as skipped');
        await writeFile(path.join(src, 'a.txt'), 'alpha, longer');
        const future = new Date(Date.now() + 3_600_000);
        await utimes(path.join(src, 'a.txt'), future, future);
        const up3 = await mirror(client, { direction: 'upload', local: src, remote: 'mirror' });
        assert.equal(up3.transferred, 1);

        const dst = path.join(local, 'tree-down');
        await mkdir(dst);
        await writeFile(path.join(dst, 'stale.txt'), 'old');
        const d1 = await mirror(client, {
          direction: 'download',
          local: dst,
          remote: 'mirror',
          delete: true,
        });
        assert.equal(d1.transferred, 4);
        assert.equal(d1.deleted, 1);
        assert.equal(await readFile(path.join(dst, 'a.txt'), 'utf8'), 'alpha, longer');
        assert.equal(await readFile(path.join(dst, 'sub', 'with space.txt'), 'utf8'), 'space');
        assert.equal((await readFile(path.join(dst, 'sub', 'deeper', 'c.bin'))).length, 70_000);
        const d2 = await mirror(client, {
          direction: 'download',
          local: dst,
          remote: 'mirror',
          delete: true,
        });
        assert.equal(d2.transferred, 0, 'nothing changed');
        assert.equal(d2.deleted, 0);

        // Upload with --delete removes remote extras, in parallel over several connections.
        await rm(path.join(src, 'sub', 'b.txt'));
        const up4 = await mirror(client, {
          direction: 'upload',
          local: src,
          remote: 'mirror',
          delete: true,
          parallel: 3,
          connect: () => connectToPeer(peer, {}, log),
        });
        assert.equal(up4.deleted, 1);
        assert.ok(!(await client.list('mirror/sub')).some((e) => e.name === 'b.txt'));
      }));
  });
}

describe('FerryClient with vsftpd announcing a foreign PASV address', { timeout: 60_000 }, () => {
  it('connects to the control host instead of the address in the 227 reply', async () => {
    // 192.0.2.7 (TEST-NET-1) is unreachable: only the replacement makes the transfer work.
    const peer = await startVsftpd({ extraConfig: { pasv_address: '192.0.2.7' } });
    const local = await mkdtemp(path.join(os.tmpdir(), 'ferry-pasv-'));
    const log = new DialogueLog();
    try {
      const client = await connectToPeer(peer, { disableEpsv: true }, log);
      try {
        await client.put(await tmpFile(local, 'p', 'pasv data'), 'p.txt');
        const out = path.join(local, 'p.down');
        await client.get('p.txt', out);
        assert.equal(await readFile(out, 'utf8'), 'pasv data');
        assert.ok(log.includes('< 227 Entering Passive Mode (192,0,2,7,'), log.dump());
        assert.ok(
          log.includes('PASV offered 192.0.2.7; connecting to the control host 127.0.0.1 instead.'),
          log.dump(),
        );
      } finally {
        await client.close();
      }
    } finally {
      await peer.stop();
      await rm(local, { recursive: true, force: true });
    }
  });
});

async function tmpFile(dir: string, name: string, content: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, content);
  return f;
}
