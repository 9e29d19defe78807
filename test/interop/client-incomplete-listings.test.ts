/**
 * Listings a server ends with 226 although they do not hold the directory's contents: vsftpd's
 * `226 Transfer done (but failed to open directory).` for a directory it may enter but not read,
 * and Pure-FTPd's `226 Output truncated to N matches` past its listing limit (-L). Ferry's client
 * must take neither for the directory's contents: `list()` fails, and a mirror with `delete`
 * deletes nothing under such a directory (a 550 is handled so already: test/client/cli.test.ts).
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { ReplyError } from '../../src/errors.js';
import { startPureFtpd, startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, DialogueLog, ferry, withPeerLog } from '../client/helpers.js';

describe('a vsftpd directory that can be entered but not read', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let client: FerryClient;
  let local: string;
  const log = new DialogueLog();

  before(async () => {
    peer = await startVsftpd();
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-xonly-'));
    // As the tester made it: root's, mode 711 (CWD works, opendir fails), with a file in it.
    await peer.putFile('sec2/xonly/f', 'a\n');
    await peer.putFile('sec2/open.txt', 'open\n');
    const xonly = path.join(peer.root, 'sec2', 'xonly');
    await chown(xonly, 0, 0);
    await chmod(xonly, 0o711);
    client = await connectToPeer(peer, {}, log);
  });
  after(async () => {
    await client?.close();
    await peer?.stop();
    await rm(local, { recursive: true, force: true });
  });

  it('list() fails, naming what vsftpd said', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      await assert.rejects(client.list('sec2/xonly', { all: true }), (err: unknown) => {
        assert.ok(err instanceof ReplyError, String(err));
        assert.match(err.message, /failed to open directory/);
        assert.match(err.message, /sec2\/xonly/);
        return true;
      });
      // The connection is still usable, back in the login directory.
      assert.deepEqual((await client.list('sec2', { all: true })).map((e) => e.name).sort(), [
        'open.txt',
        'xonly',
      ]);
    }));

  it('mirror --delete deletes nothing under it and fails', () =>
    withPeerLog('vsftpd', peer, log, async () => {
      const dst = path.join(local, 'l');
      await mkdir(path.join(dst, 'xonly'), { recursive: true });
      await writeFile(path.join(dst, 'xonly', 'f'), 'mine\n');
      const events: MirrorEvent[] = [];
      await assert.rejects(
        mirror(client, {
          direction: 'download',
          local: dst,
          remote: 'sec2',
          delete: true,
          onEvent: (e) => events.push(e),
        }),
        /failed to open directory/,
      );
      assert.equal(await readFile(path.join(dst, 'xonly', 'f'), 'utf8'), 'mine\n');
      assert.deepEqual(
        events.filter((e) => e.kind === 'delete'),
        [],
      );
      assert.ok(events.some((e) => e.kind === 'failed' && e.path === 'xonly'));
      // The rest of the tree was mirrored.
      assert.equal(await readFile(path.join(dst, 'open.txt'), 'utf8'), 'open\n');
    }));

  it('ferry mirror counts the directories not listed and says deletions were held back (and -n too)', async () => {
    // ok.txt transfers; secret.txt (root's, 600) is refused; locked (root's, 700) is refused at
    // CWD with 550, xonly (711) at LIST with vsftpd's 226.
    await peer.putFile('sec4/ok.txt', 'ok\n');
    await peer.putFile('sec4/secret.txt', 'no\n');
    await peer.putFile('sec4/locked/in.txt', 'in\n');
    await peer.putFile('sec4/xonly/in.txt', 'in\n');
    for (const [name, mode] of [
      ['secret.txt', 0o600],
      ['locked', 0o700],
      ['xonly', 0o711],
    ] as const) {
      await chown(path.join(peer.root, 'sec4', name), 0, 0);
      await chmod(path.join(peer.root, 'sec4', name), mode);
    }
    const dst = path.join(local, 'l4');
    await mkdir(dst);
    await writeFile(path.join(dst, 'extra.txt'), 'mine\n');
    const url = `ftpes://${peer.user}@${peer.host}:${peer.port}/sec4`;
    const env = { HOME: local, FERRY_PASSWORD: peer.password };
    const args = ['mirror', '--ca', peer.certificate.certFile, '--delete', url, dst];

    const dry = await ferry([...args, '-n'], env);
    assert.equal(dry.code, 6, dry.stderr);
    assert.match(dry.stderr, /^failed locked: .*550/m);
    assert.match(dry.stderr, /^failed xonly: .*failed to open directory/m);
    assert.match(dry.stderr, /^would transfer ok\.txt/m);
    assert.doesNotMatch(dry.stderr, /would delete extra/);
    assert.match(
      dry.stderr,
      /^Would transfer 2 file\(s\), 6 B; 2 directories not listed; would delete 0 \(deletions held back by the failure\)\.$/m,
    );

    const real = await ferry(args, env);
    assert.equal(real.code, 6, real.stderr);
    assert.match(real.stderr, /^failed secret\.txt: RETR .*550/m);
    assert.match(
      real.stderr,
      /^Transferred 1 of 2 file\(s\), 3 B; 1 failed; 2 directories not listed; 0 deleted \(deletions held back by the failure\)\.$/m,
    );
    assert.equal(await readFile(path.join(dst, 'extra.txt'), 'utf8'), 'mine\n');
    assert.equal(await readFile(path.join(dst, 'ok.txt'), 'utf8'), 'ok\n');
  });
});

describe('a Pure-FTPd listing cut at its limit (-L)', { timeout: 120_000 }, () => {
  const LIMIT = 20;
  const FILES = 30;
  let peer: FtpsPeer;
  let client: FerryClient;
  let local: string;
  const log = new DialogueLog();
  const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(3, '0')}`);

  before(async () => {
    // -L files:depth: at most LIMIT entries per listing (10,000 by default).
    peer = await startPureFtpd({ extraArgs: ['--limitrecursion', `${LIMIT}:5`] });
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-truncated-'));
    for (const n of names) await peer.putFile(`big/${n}`, 'x');
    client = await connectToPeer(peer, {}, log);
  });
  after(async () => {
    await client?.close();
    await peer?.stop();
    await rm(local, { recursive: true, force: true });
  });

  for (const verb of ['MLSD', 'LIST', 'NLST'] as const)
    it(`a ${verb} listing fails, saying it was cut short`, () =>
      withPeerLog('pure-ftpd', peer, log, async () => {
        await assert.rejects(client.listRaw('big', verb), (err: unknown) => {
          assert.ok(err instanceof ReplyError, String(err));
          assert.match(err.message, /cut the listing of big short/);
          assert.match(err.message, /truncated/);
          return true;
        });
      }));

  it('list() fails (MLSD), and a listing within the limit still works', () =>
    withPeerLog('pure-ftpd', peer, log, async () => {
      await assert.rejects(client.list('big'), /cut the listing of big short/);
      await peer.putFile('small/a', 'a');
      assert.deepEqual(
        (await client.list('small')).map((e) => e.name),
        ['a'],
      );
    }));

  it('ferry ls and ferry get of a pattern fail with exit 6, saying the listing was cut', async () => {
    const url = `ftpes://${peer.user}@${peer.host}:${peer.port}/big`;
    const env = { HOME: local, FERRY_PASSWORD: peer.password };
    const ca = ['--ca', peer.certificate.certFile];
    const ls = await ferry(['ls', ...ca, url], env);
    assert.equal(ls.code, 6, ls.stderr);
    assert.equal(ls.stdout, '');
    assert.match(ls.stderr, /cut the listing of big short .*Output truncated to 20 matches/);
    const into = path.join(local, 'got');
    await mkdir(into);
    const get = await ferry(['get', ...ca, `${url}/*`, into], env);
    assert.equal(get.code, 6, get.stderr);
    assert.match(get.stderr, /cut the listing of big short/);
    assert.deepEqual(await readdir(into), []);
  });

  it('mirror --delete deletes nothing and fails', () =>
    withPeerLog('pure-ftpd', peer, log, async () => {
      const dst = path.join(local, 'l');
      await mkdir(dst, { recursive: true });
      for (const n of names) await writeFile(path.join(dst, n), 'x');
      const events: MirrorEvent[] = [];
      await assert.rejects(
        mirror(client, {
          direction: 'download',
          local: dst,
          remote: 'big',
          delete: true,
          onEvent: (e) => events.push(e),
        }),
        /cut the listing of big short/,
      );
      assert.deepEqual(
        events.filter((e) => e.kind === 'delete'),
        [],
      );
      for (const n of names) assert.equal(await readFile(path.join(dst, n), 'utf8'), 'x');
    }));
});
