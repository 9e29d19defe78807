/**
 * A download mirror gives each file the server's time to the second: vsftpd's LIST shows only the
 * day of a file older than half a year and the minute of a newer one, so the time is asked with
 * MDTM (which vsftpd offers); the next run then finds nothing to transfer. A same-size change made
 * within the minute of the last mirror looked unchanged, run after run (exit 0): such a file's
 * remote time is asked with MDTM too, both ways. `--size-only` (sizeOnly): new local times alone
 * send nothing, a new size does.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { mirror } from '../../src/client/mirror.js';
import { peerSession } from '../support/peer-session.js';

/** Seconds `s` into a minute an hour ago (LIST shows such a recent file as `Mon DD HH:MM`). */
const inMinute = (s: number): Date =>
  new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 + s * 1000);

describe('mirror times against vsftpd (LIST shows days or minutes)', { timeout: 120_000 }, () => {
  const ctx = peerSession();

  it('a downloaded file gets the time of MDTM, not the day or minute of LIST', () =>
    ctx.withLog(async () => {
      const old = new Date('2020-01-02T03:04:05Z');
      // Within the half year LIST shows as `Mon DD HH:MM`, with seconds it cannot show.
      const recent = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 + 37_000);
      await utimes(await ctx.peer.putFile('t/one.txt', 'one'), old, old);
      await utimes(await ctx.peer.putFile('t/two.txt', 'two'), recent, recent);
      const local = path.join(ctx.home, 't');
      const first = await mirror(ctx.client, { direction: 'download', local, remote: 't' });
      assert.equal(first.transferred, 2);
      assert.equal((await stat(path.join(local, 'one.txt'))).mtime.toISOString(), old.toISOString());
      assert.equal((await stat(path.join(local, 'two.txt'))).mtime.toISOString(), recent.toISOString());
      assert.ok(ctx.log.includes('> MDTM t/one.txt'), ctx.log.dump());
      const again = await mirror(ctx.client, { direction: 'download', local, remote: 't' });
      assert.deepEqual(again.files, []);
    }));

  it('an upload sends a file changed within the minute of the last mirror', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'up');
      await mkdir(local);
      const file = path.join(local, 'index.html');
      const write = async (text: string, t: Date): Promise<void> => {
        await writeFile(file, text);
        await utimes(file, t, t);
      };
      await write('version 1', inMinute(10));
      const o = { direction: 'upload', local, remote: 'up', perms: false } as const;
      assert.deepEqual((await mirror(ctx.client, o)).files, ['index.html']);
      await write('version 2', inMinute(40));
      assert.deepEqual((await mirror(ctx.client, o)).files, ['index.html']);
      assert.equal(await readFile(path.join(ctx.peer.root, 'up', 'index.html'), 'utf8'), 'version 2');
      assert.ok(ctx.log.includes('> MDTM up/index.html'), ctx.log.dump());
      assert.deepEqual((await mirror(ctx.client, o)).files, [], 'unchanged since: nothing sent');
    }));

  it('a download fetches a file changed within the minute of the last mirror', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'down');
      const put = async (text: string, t: Date): Promise<void> => {
        const f = await ctx.peer.putFile('down/index.html', text);
        await utimes(f, t, t);
      };
      await put('version 1', inMinute(10));
      const o = { direction: 'download', local, remote: 'down', perms: false } as const;
      assert.deepEqual((await mirror(ctx.client, o)).files, ['index.html']);
      await put('version 2', inMinute(40));
      assert.deepEqual((await mirror(ctx.client, o)).files, ['index.html']);
      assert.equal(await readFile(path.join(local, 'index.html'), 'utf8'), 'version 2');
      assert.deepEqual((await mirror(ctx.client, o)).files, [], 'unchanged since: nothing fetched');
    }));

  it('--size-only: new local times send nothing, asking no MDTM; a new size is sent', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'sizes');
      await mkdir(local);
      const file = path.join(local, 'a.txt');
      await writeFile(file, 'one');
      const o = { direction: 'upload', local, remote: 'sizes', perms: false, sizeOnly: true } as const;
      assert.deepEqual((await mirror(ctx.client, o)).files, ['a.txt']);
      // A fresh checkout: the same bytes, a new time.
      const later = new Date(Date.now() + 86_400_000);
      await utimes(file, later, later);
      const from = ctx.log.lines.length;
      const again = await mirror(ctx.client, o);
      assert.deepEqual(again.files, []);
      assert.equal(again.unchanged, 1);
      assert.ok(!ctx.log.lines.slice(from).includes('> MDTM sizes/a.txt'), ctx.log.dump());
      await writeFile(file, 'three');
      assert.deepEqual((await mirror(ctx.client, o)).files, ['a.txt']);
      assert.equal(await readFile(path.join(ctx.peer.root, 'sizes', 'a.txt'), 'utf8'), 'three');
    }));
});
