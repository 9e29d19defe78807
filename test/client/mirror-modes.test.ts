/**
 * Modes without owner bits (`040`, `004`, `000`) survive a mirror: SITE CHMOD is sent with three
 * digits (0o40 as `040`, never `40`), and `ferry chmod` takes 1 to 4 octal digits as chmod(1)
 * does. A rerun converges: an unchanged file whose mode differs from the one a transfer would give
 * it gets that mode, both ways, without being sent again.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { processUmask } from '../../src/client/umask.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { clientOf, ferry } from './helpers.js';

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;
const MODES = [0o000, 0o004, 0o040, 0o044, 0o400, 0o600];
const nameOf = (m: number): string => `m${m.toString(8).padStart(3, '0')}.txt`;

describe('mirror and chmod with modes that have no owner bits', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-modes-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('upload: every file gets its mode, and a rerun puts back a mode changed on the server', async () => {
    const local = path.join(home, 'up');
    await mkdir(local);
    for (const m of MODES) {
      await writeFile(path.join(local, nameOf(m)), `${m}\n`);
      await chmod(path.join(local, nameOf(m)), m);
    }
    const events: MirrorEvent[] = [];
    const r = await mirror(client, {
      direction: 'upload',
      local,
      remote: 'up',
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(
      events.filter((e) => e.kind === 'failed' || e.kind === 'note'),
      [],
    );
    assert.equal(r.transferred, MODES.length);
    const remote = path.join(ts.root, 'up');
    for (const m of MODES) assert.equal(await modeOf(path.join(remote, nameOf(m))), m, nameOf(m));

    // Changed on the server since: the next mirror sends nothing and gives the mode back.
    await chmod(path.join(remote, nameOf(0o040)), 0o644);
    const notes: MirrorEvent[] = [];
    const again = await mirror(client, {
      direction: 'upload',
      local,
      remote: 'up',
      onEvent: (e) => (e.kind === 'note' ? notes.push(e) : undefined),
    });
    assert.equal(again.transferred, 0);
    assert.equal(again.unchanged, MODES.length);
    assert.equal(await modeOf(path.join(remote, nameOf(0o040))), 0o040);
    assert.deepEqual(notes, [{ kind: 'note', path: nameOf(0o040), message: 'mode 644 set to 040' }]);
  });

  it('download: a rerun puts back the mode of a local copy changed since', async () => {
    const remote = path.join(ts.root, 'down');
    await mkdir(remote);
    await writeFile(path.join(remote, 'g.txt'), 'g\n');
    await chmod(path.join(remote, 'g.txt'), 0o640);
    const local = path.join(home, 'down');
    await mirror(client, { direction: 'download', local, remote: 'down' });
    const want = 0o640 & ~processUmask();
    assert.equal(await modeOf(path.join(local, 'g.txt')), want);
    await chmod(path.join(local, 'g.txt'), 0o666);
    const again = await mirror(client, { direction: 'download', local, remote: 'down' });
    assert.equal(again.transferred, 0);
    assert.equal(await modeOf(path.join(local, 'g.txt')), want);
  });

  it('ferry chmod takes 1 to 4 octal digits (0, 44, 0640); 8 is a usage error', async () => {
    await writeFile(path.join(ts.root, 'c.txt'), 'c\n');
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    const env = {
      HOME: home,
      FERRY_PASSWORD: ts.password,
      FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts'),
    };
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/c.txt`;
    for (const [text, mode] of [
      ['44', 0o044],
      ['0', 0o000],
      ['0640', 0o640],
    ] as const) {
      const r = await ferry(['chmod', '--fingerprint', pin, text, url], env);
      assert.equal(r.code, EXIT.ok, `${text}: ${r.stderr}`);
      assert.equal(await modeOf(path.join(ts.root, 'c.txt')), mode, text);
    }
    const bad = await ferry(['chmod', '--fingerprint', pin, '8', url], env);
    assert.equal(bad.code, EXIT.usage, bad.stderr);
    assert.match(bad.stderr, /Not an octal mode: 8/);
  });
});
