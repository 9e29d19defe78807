/**
 * `mirror` keeps permissions both ways, as lftp's mirror does: an upload gives each file and
 * directory its local mode with SITE CHMOD (a server that refuses it is told of once, not a
 * failure), a download gives them the listing's mode less the umask, and `perms: false`
 * (`--no-perms`) leaves the modes to the destination's defaults. Against Ferry's own server
 * (MLSD with unix.mode) and vsftpd (LIST's rwx columns). A read-only file it uploaded is replaced
 * the next time (made writable with SITE CHMOD, or removed where the server refuses that): against
 * vsftpd, whose sessions run as its user (Ferry's test server runs as root, whom no mode stops).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { processUmask } from '../../src/client/umask.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { peerSession } from '../support/peer-session.js';
import { startVsftpd } from '../support/peers.js';
import { clientOf, DialogueLog, ferry, optionsOf } from './helpers.js';

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;

describe('mirror keeps permissions against Ferry', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-perms-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  /** A tree with a private file, a script, a plain file and a private directory. */
  const tree = async (dir: string): Promise<void> => {
    await mkdir(path.join(dir, 'private'), { recursive: true });
    await writeFile(path.join(dir, 'priv.txt'), 'secret');
    await writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\n');
    await writeFile(path.join(dir, 'plain.txt'), 'plain');
    await writeFile(path.join(dir, 'private', 'key'), 'key');
    await chmod(path.join(dir, 'priv.txt'), 0o600);
    await chmod(path.join(dir, 'run.sh'), 0o755);
    await chmod(path.join(dir, 'plain.txt'), 0o644);
    await chmod(path.join(dir, 'private', 'key'), 0o640);
    await chmod(path.join(dir, 'private'), 0o700);
  };

  it('upload: files and directories get their local modes on the server', async () => {
    const local = path.join(home, 'up');
    await tree(local);
    await mirror(client, { direction: 'upload', local, remote: 'up' });
    const r = path.join(ts.root, 'up');
    assert.equal(await modeOf(path.join(r, 'priv.txt')), 0o600);
    assert.equal(await modeOf(path.join(r, 'run.sh')), 0o755);
    assert.equal(await modeOf(path.join(r, 'plain.txt')), 0o644);
    assert.equal(await modeOf(path.join(r, 'private', 'key')), 0o640);
    assert.equal(await modeOf(path.join(r, 'private')), 0o700);
  });

  it('download: the listing’s modes less the umask; a file rewritten in place too', async () => {
    const remote = path.join(ts.root, 'down');
    await tree(remote);
    await chmod(path.join(remote, 'plain.txt'), 0o666);
    await mkdir(path.join(remote, 'ro'));
    await writeFile(path.join(remote, 'ro', 'in.txt'), 'in');
    await chmod(path.join(remote, 'ro'), 0o555);
    const local = path.join(home, 'down');
    // A local copy that is older and more open than the server's: replaced, and closed.
    await mkdir(local);
    await writeFile(path.join(local, 'priv.txt'), 'old and open');
    await chmod(path.join(local, 'priv.txt'), 0o644);
    const r = await mirror(client, { direction: 'download', local, remote: 'down' });
    assert.equal(r.transferred, 5);
    const umask = processUmask();
    assert.equal(await modeOf(path.join(local, 'priv.txt')), 0o600);
    assert.equal(await modeOf(path.join(local, 'run.sh')), 0o755 & ~umask);
    assert.equal(await modeOf(path.join(local, 'plain.txt')), 0o666 & ~umask);
    assert.equal(await modeOf(path.join(local, 'private', 'key')), 0o640 & ~umask);
    assert.equal(await modeOf(path.join(local, 'private')), 0o700);
    assert.equal(await modeOf(path.join(local, 'ro')), (0o555 & ~umask) | 0o700, 'its owner keeps rwx');
  });

  it('setuid, setgid and sticky bits are never kept, either way (as lftp)', async () => {
    const remote = path.join(ts.root, 'suid');
    await mkdir(remote);
    await writeFile(path.join(remote, 'root.sh'), '#!/bin/sh\n');
    await chmod(path.join(remote, 'root.sh'), 0o4755);
    await writeFile(path.join(remote, 'group'), 'g');
    await chmod(path.join(remote, 'group'), 0o2775);
    const local = path.join(home, 'suid');
    await mirror(client, { direction: 'download', local, remote: 'suid' });
    const umask = processUmask();
    assert.equal(await modeOf(path.join(local, 'root.sh')), 0o755 & ~umask);
    assert.equal(await modeOf(path.join(local, 'group')), 0o775 & ~umask);
    // Uploading them asks for the plain modes (a server applying SITE CHMOD 4755 would make them setuid).
    const log = new DialogueLog();
    const logged = await FerryClient.connect({ ...(await optionsOf(ts)), log: log.log });
    try {
      await mirror(logged, { direction: 'upload', local, remote: 'suid-up' });
    } finally {
      await logged.close();
    }
    assert.ok(log.includes('> SITE CHMOD 755 suid-up/root.sh'), log.dump());
    assert.ok(!log.lines.some((l) => /SITE CHMOD [0-7]?[1-7][0-7]{3} /.test(l)), log.dump());
  });

  it('perms: false leaves the modes to the destination', async () => {
    const local = path.join(home, 'plain-down');
    const r = await mirror(client, { direction: 'download', local, remote: 'down', perms: false });
    assert.equal(r.transferred, 5);
    const umask = processUmask();
    assert.equal(await modeOf(path.join(local, 'priv.txt')), 0o666 & ~umask);
    assert.equal(await modeOf(path.join(local, 'run.sh')), 0o666 & ~umask);
  });
});

describe('mirror upload to a server that refuses SITE CHMOD', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let home: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry({
      storageFor: () => new MemoryStorage({ features: ['restart-read', 'restart-write', 'append'] }),
    });
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-perms-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('is no failure: every file is sent, and the refusal is told of once', async () => {
    const local = path.join(home, 'up');
    await mkdir(path.join(local, 'd'), { recursive: true });
    for (const name of ['a', 'b', 'd/c']) {
      await writeFile(path.join(local, name), name);
      await chmod(path.join(local, name), 0o600);
    }
    const events: MirrorEvent[] = [];
    const r = await mirror(client, {
      direction: 'upload',
      local,
      remote: 'up',
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.transferred, 3);
    const notes = events.filter((e) => e.kind === 'note');
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.match(notes[0]?.kind === 'note' ? notes[0].message : '', /permissions not kept: .*502/);
    assert.equal(events.filter((e) => e.kind === 'failed').length, 0);
  });

  it('ferry mirror: exit 0 and one line about it; with --no-perms no SITE CHMOD is asked', async () => {
    const local = path.join(home, 'cli');
    await mkdir(local);
    for (const name of ['a', 'b']) await writeFile(path.join(local, name), name);
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    const env = {
      HOME: home,
      FERRY_PASSWORD: ts.password,
      FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts'),
    };
    const url = (dir: string): string => `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${dir}`;
    const kept = await ferry(['mirror', '--fingerprint', pin, local, url('cli1')], env);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.stderr.match(/permissions not kept: .*502/g)?.length, 1, kept.stderr);
    const off = await ferry(['mirror', '--fingerprint', pin, '--no-perms', local, url('cli2')], env);
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stderr, /permissions/);
    assert.match(off.stderr, /Transferred 2 file/);
  });
});

describe('mirror keeps permissions against vsftpd (LIST)', { timeout: 120_000 }, () => {
  const ctx = peerSession();

  it('download: the modes of LIST less the umask', () =>
    ctx.withLog(async () => {
      await chmod(await ctx.peer.putFile('vp/secret.txt', 's'), 0o600);
      await chmod(await ctx.peer.putFile('vp/run.sh', '#!/bin/sh\n'), 0o750);
      await ctx.peer.putFile('vp/priv/in.txt', 'in');
      await chmod(path.join(ctx.peer.root, 'vp', 'priv'), 0o700);
      const local = path.join(ctx.home, 'vp');
      await mirror(ctx.client, { direction: 'download', local, remote: 'vp' });
      assert.equal(await modeOf(path.join(local, 'secret.txt')), 0o600);
      assert.equal(await modeOf(path.join(local, 'run.sh')), 0o750 & ~processUmask());
      assert.equal(await modeOf(path.join(local, 'priv')), 0o700);
    }));

  it('upload: SITE CHMOD gives the files their local modes', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'vu');
      await mkdir(local);
      await writeFile(path.join(local, 'priv.txt'), 'p');
      await writeFile(path.join(local, 'run.sh'), 'r');
      await chmod(path.join(local, 'priv.txt'), 0o600);
      await chmod(path.join(local, 'run.sh'), 0o755);
      await mirror(ctx.client, { direction: 'upload', local, remote: 'vu' });
      assert.equal(await modeOf(path.join(ctx.peer.root, 'vu', 'priv.txt')), 0o600);
      assert.equal(await modeOf(path.join(ctx.peer.root, 'vu', 'run.sh')), 0o755);
      assert.ok(ctx.log.includes('> SITE CHMOD 600 vu/priv.txt'), ctx.log.dump());
    }));

  it('upload: a file it made read-only is replaced the next time (SITE CHMOD u+w first)', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'vro');
      const file = path.join(local, 'ro.txt');
      await mkdir(local);
      await writeFile(file, '1\n');
      await chmod(file, 0o444);
      await mirror(ctx.client, { direction: 'upload', local, remote: 'vro' });
      const copy = path.join(ctx.peer.root, 'vro', 'ro.txt');
      assert.equal(await modeOf(copy), 0o444);
      // Changed, and read-only again (a key, a configuration file).
      await chmod(file, 0o644);
      await writeFile(file, '22\n');
      await chmod(file, 0o444);
      const r = await mirror(ctx.client, { direction: 'upload', local, remote: 'vro' });
      assert.equal(r.transferred, 1);
      assert.equal(await readFile(copy, 'utf8'), '22\n');
      assert.equal(await modeOf(copy), 0o444);
      assert.ok(ctx.log.includes('> SITE CHMOD 644 vro/ro.txt'), ctx.log.dump());
      assert.ok(!ctx.log.includes('> DELE vro/ro.txt'), ctx.log.dump());
    }));
});

describe(
  'mirror upload replaces a read-only file on vsftpd refusing SITE CHMOD',
  { timeout: 120_000 },
  () => {
    const ctx = peerSession('vsftpd', () => startVsftpd({ extraConfig: { chmod_enable: 'NO' } }));

    it('removes it first, as lftp does', () =>
      ctx.withLog(async () => {
        const local = path.join(ctx.home, 'nc');
        await mkdir(local);
        // Read-only where it was made so: vsftpd's user owns the file, and only SITE CHMOD is refused.
        await chmod(await ctx.peer.putFile('nc/ro.txt', '1\n'), 0o444);
        await writeFile(path.join(local, 'ro.txt'), '22\n');
        const r = await mirror(ctx.client, { direction: 'upload', local, remote: 'nc', perms: false });
        assert.equal(r.transferred, 1);
        assert.equal(await readFile(path.join(ctx.peer.root, 'nc', 'ro.txt'), 'utf8'), '22\n');
        assert.ok(ctx.log.includes('> DELE nc/ro.txt'), ctx.log.dump());
      }));
  },
);
