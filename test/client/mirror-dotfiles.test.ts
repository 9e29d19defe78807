/**
 * Dot-files over servers without MLSD. vsftpd answers a plain LIST without them: the client lists
 * with `LIST -a`, so a download mirror fetches them and `--delete` keeps a local one the server has,
 * an upload mirror sees what it sent (its second run transfers nothing), `rm -r` empties a
 * directory of them, `ferry ls` shows them only with `-a`, and `ferry get 'dir/.*'` finds them.
 * pyftpdlib with MLSD left out and `-a` refused as a path (as IIS does): the client falls back to
 * plain LIST once per connection, and a download mirror with `--delete` keeps local dot-files (it
 * cannot tell those the server lacks from those its listing hides).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { peerSession } from '../support/peer-session.js';
import { startPyftpdlib, type FtpsPeer } from '../support/peers.js';
import { ferry } from './helpers.js';

/** A remote tree with dot-files and a local destination holding a dot-file and a stale file. */
async function downloadCase(peer: FtpsPeer, home: string): Promise<string> {
  await peer.putFile('down/.hidden.gz', 'hidden on the server');
  await peer.putFile('down/a.txt', 'alpha');
  await peer.putFile('down/sub/.inner', 'inner');
  const dst = path.join(home, 'down');
  await mkdir(dst);
  await writeFile(path.join(dst, '.hidden.gz'), 'an older local copy');
  await writeFile(path.join(dst, 'stale.txt'), 'gone from the server');
  return dst;
}

describe('mirror and dot-files against vsftpd (plain LIST hides them)', { timeout: 120_000 }, () => {
  const t = peerSession();

  it('a download mirror with --delete fetches dot-files and keeps the local one the server has', () =>
    t.withLog(async () => {
      const dst = await downloadCase(t.peer, t.home);
      const r = await mirror(t.client, { direction: 'download', local: dst, remote: 'down', delete: true });
      assert.equal(await readFile(path.join(dst, '.hidden.gz'), 'utf8'), 'hidden on the server');
      assert.equal(await readFile(path.join(dst, 'sub', '.inner'), 'utf8'), 'inner');
      assert.equal(r.transferred, 3);
      assert.equal(r.deleted, 1, 'stale.txt only');
      assert.ok(t.log.includes('> LIST -a'), t.log.dump());
      assert.equal(t.client.listsDotFiles, true);
    }));

  it('an upload mirror sees the dot-files it sent: the second run transfers nothing', () =>
    t.withLog(async () => {
      const src = path.join(t.home, 'up');
      await mkdir(path.join(src, '.config'), { recursive: true });
      await writeFile(path.join(src, '.env'), 'A=1');
      await writeFile(path.join(src, 'a.txt'), 'alpha');
      await writeFile(path.join(src, '.config', 'x'), 'x');
      const first = await mirror(t.client, { direction: 'upload', local: src, remote: 'up' });
      assert.equal(first.transferred, 3);
      assert.equal(await readFile(path.join(t.peer.root, 'up', '.config', 'x'), 'utf8'), 'x');
      const second = await mirror(t.client, {
        direction: 'upload',
        local: src,
        remote: 'up',
        delete: true,
      });
      assert.equal(second.transferred, 0, 'nothing changed');
      assert.equal(second.unchanged, 3);
      assert.equal(second.deleted, 0);
    }));

  it('rm -r removes a directory holding dot-files', () =>
    t.withLog(async () => {
      await t.peer.putFile('rm/.dot/.inner', 'inner');
      await t.peer.putFile('rm/.env', 'A=1');
      await t.client.remove('rm', { recursive: true });
      assert.ok(!(await t.client.list('')).some((e) => e.name === 'rm'));
    }));

  /** The `ferry` command against the peer: the URL of a path, and the environment. */
  const cli = (p: string): { url: string; env: Record<string, string>; ca: string[] } => {
    const peer = t.peer;
    return {
      url: `ftpes://${peer.user}@${peer.host}:${peer.port}/${p}`,
      env: { HOME: t.home, FERRY_PASSWORD: peer.password },
      ca: ['--ca', peer.certificate.certFile],
    };
  };

  it('ferry ls shows dot-files only with -a', async () => {
    await t.peer.putFile('ls/.dot', 'dot');
    await t.peer.putFile('ls/plain', 'plain');
    const { url, env, ca } = cli('ls');
    const plain = await ferry(['ls', '-1', ...ca, url], env);
    assert.equal(plain.code, EXIT.ok, plain.stderr);
    assert.equal(plain.stdout, 'plain\n');
    const all = await ferry(['ls', '-1', ...ca, '-a', url], env);
    assert.equal(all.code, EXIT.ok, all.stderr);
    assert.equal(all.stdout, '.dot\nplain\n');
  });

  it("ferry get of a pattern that starts with '.' finds dot-files", async () => {
    await t.peer.putFile('pat/.hidden.gz', 'hidden');
    await t.peer.putFile('pat/seen.gz', 'seen');
    const out = path.join(t.home, 'pat');
    await mkdir(out);
    const { url, env, ca } = cli('pat/.*.gz');
    const r = await ferry(['get', '-q', ...ca, url, out], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readdir(out), ['.hidden.gz']);
  });
});

describe(
  'mirror against a server that refuses LIST -a (pyftpdlib without MLSD)',
  { timeout: 120_000 },
  () => {
    const t = peerSession('pyftpdlib', () => startPyftpdlib({ noMlst: true, refuseListOptions: true }));

    it('lists with plain LIST after one refusal, and --delete keeps local dot-files', () =>
      t.withLog(async () => {
        const dst = await downloadCase(t.peer, t.home);
        await writeFile(path.join(dst, '.local-only'), 'mine');
        const events: MirrorEvent[] = [];
        const r = await mirror(t.client, {
          direction: 'download',
          local: dst,
          remote: 'down',
          delete: true,
          onEvent: (e) => events.push(e),
        });
        // pyftpdlib's plain LIST shows dot-files; the client cannot know that.
        assert.equal(await readFile(path.join(dst, '.hidden.gz'), 'utf8'), 'hidden on the server');
        assert.equal(await readFile(path.join(dst, '.local-only'), 'utf8'), 'mine');
        assert.equal(r.deleted, 1, 'stale.txt only');
        const kept = events.find((e) => e.kind === 'skip' && e.path === '.local-only');
        assert.match(kept?.kind === 'skip' ? kept.reason : '', /does not show dot-files/);
        assert.equal(t.log.lines.filter((l) => l === '> LIST -a').length, 1, t.log.dump());
        assert.equal(t.client.listsDotFiles, false);
      }));
  },
);
