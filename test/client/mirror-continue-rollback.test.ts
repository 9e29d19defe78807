/**
 * `mirror -c` without a server checksum (vsftpd has none): a destination newer than the source is
 * no proof of a cut transfer. A rollback (the source replaced by an older, larger version that kept
 * its time, as `cp -p` or a tarball does) or a destination copy edited smaller must be sent whole,
 * not completed with the source's tail (a corrupt file later mirrors call unchanged). A real cut
 * transfer, whose last bytes are the source's, is still continued, and said.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { mirror, type MirrorEvent, type MirrorOptions } from '../../src/client/mirror.js';
import { peerSession } from '../support/peer-session.js';

const V1 = Buffer.from('A'.repeat(1000));
const V2 = Buffer.from('B'.repeat(500));
const T1 = new Date('2024-01-01T00:00:00Z');
const T2 = new Date('2024-02-01T00:00:00Z');
/** Larger than the bytes compared, so that a download's read of them is cut short (ABOR). */
const BIG = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) % 251));

describe('mirror -c without a checksum compares the bytes, vsftpd', { timeout: 120_000 }, () => {
  const ctx = peerSession();

  /** Mirrors, returning the notes. */
  const run = async (o: MirrorOptions): Promise<string[]> => {
    const notes: string[] = [];
    const onEvent = (e: MirrorEvent): void => {
      if (e.kind === 'note') notes.push(e.message);
    };
    await mirror(ctx.client, { ...o, onEvent });
    return notes;
  };
  const putRemote = async (rel: string, data: Buffer, t: Date): Promise<void> => {
    await utimes(await ctx.peer.putFile(rel, data), t, t);
  };

  it('upload: a rollback to an older, larger version is sent whole', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'up');
      await mkdir(local);
      const file = path.join(local, 'index.html');
      const write = async (data: Buffer, t: Date): Promise<void> => {
        await writeFile(file, data);
        await utimes(file, t, t);
      };
      const o = { direction: 'upload', local, remote: 'up', perms: false, continue: true } as const;
      await write(V1, T1);
      await mirror(ctx.client, o);
      await write(V2, T2);
      await mirror(ctx.client, o);
      // vsftpd keeps the time MDTM gave it only for the file sent, so the remote v2 is newer.
      await write(V1, T1);
      const notes = await run(o);
      assert.deepEqual(await readFile(path.join(ctx.peer.root, 'up', 'index.html')), V1);
      assert.ok(
        notes.some((n) => n.startsWith("not continued (-c): its last bytes are not the source's")),
        String(notes),
      );
    }));

  it('download: a server rolled back to an older, larger version is fetched whole', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'down');
      const o = { direction: 'download', local, remote: 'down', perms: false, continue: true } as const;
      await putRemote('down/index.html', V1, T1);
      await mirror(ctx.client, o);
      await putRemote('down/index.html', V2, T2);
      await mirror(ctx.client, o);
      await putRemote('down/index.html', V1, T1);
      // The local v2 was given T2, after T1: the time rule alone would continue it.
      await utimes(path.join(local, 'index.html'), T2, T2);
      const notes = await run(o);
      assert.deepEqual(await readFile(path.join(local, 'index.html')), V1);
      assert.ok(
        notes.some((n) => n.startsWith("not continued (-c): its last bytes are not the source's")),
        String(notes),
      );
    }));

  it('download: a local copy edited smaller after the mirror is restored whole', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'edited');
      const o = { direction: 'download', local, remote: 'edited', perms: false, continue: true } as const;
      await putRemote('edited/index.html', V1, T1);
      await mirror(ctx.client, o);
      await writeFile(path.join(local, 'index.html'), V2); // edited now: newer than the remote
      await run(o);
      assert.deepEqual(await readFile(path.join(local, 'index.html')), V1);
    }));

  it('download: a cut transfer, newer and the source start, is continued and said so', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'cut');
      await mkdir(local);
      await putRemote('cut/big.bin', BIG, T1);
      await writeFile(path.join(local, 'big.bin'), BIG.subarray(0, 100 * 1024));
      const from = ctx.log.lines.length;
      const notes = await run({ direction: 'download', local, remote: 'cut', perms: false, continue: true });
      assert.deepEqual(await readFile(path.join(local, 'big.bin')), BIG);
      assert.ok(
        notes.some((n) => n.startsWith('continued (-c): newer than the source')),
        String(notes),
      );
      const sent = ctx.log.lines.slice(from);
      // The compared bytes were read from byte 100 KiB − 64 KiB, then the transfer stopped; the
      // continued download started where the local file ended.
      assert.ok(sent.includes(`> REST ${36 * 1024}`) && sent.includes('> ABOR'), sent.join('\n'));
      assert.ok(sent.includes(`> REST ${100 * 1024}`), sent.join('\n'));
    }));

  it('upload: a cut transfer, newer and the source start, is continued', () =>
    ctx.withLog(async () => {
      const local = path.join(ctx.home, 'cut-up');
      await mkdir(local);
      await writeFile(path.join(local, 'big.bin'), BIG);
      await utimes(path.join(local, 'big.bin'), T1, T1);
      await putRemote('cut-up/big.bin', BIG.subarray(0, 100 * 1024), T2);
      const from = ctx.log.lines.length;
      const notes = await run({ direction: 'upload', local, remote: 'cut-up', perms: false, continue: true });
      assert.deepEqual(await readFile(path.join(ctx.peer.root, 'cut-up', 'big.bin')), BIG);
      assert.ok(
        notes.some((n) => n.startsWith('continued (-c)')),
        String(notes),
      );
      assert.ok(
        ctx.log.lines.slice(from).includes('> APPE cut-up/big.bin'),
        ctx.log.lines.slice(from).join('\n'),
      );
    }));
});
