/**
 * A download that fails before its first byte leaves an existing local file as it was (README: "An
 * existing file is replaced from the first byte received on"): the server announced bytes and sent
 * none, its data connection ended by a bare FIN, or it answered 426 after an empty data connection.
 * A remote file that is empty, its download a success, still empties the local file.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';

import { FerryError, ReplyError } from '../../src/errors.js';
import { endData, useHostileServer, sendThenEnd } from './support/hostile-server.js';

describe('a download that received nothing keeps the local file', { timeout: 30_000 }, () => {
  const fx = useHostileServer('ferry-kept-');
  const { log } = fx;

  /** An existing local file with old content, and the download of f.bin into it. */
  const getInto = async (name: string): Promise<{ file: string; result: Promise<unknown> }> => {
    const file = path.join(fx.dir, name);
    await writeFile(file, 'old content');
    const client = await fx.server.connect({ log: log.log });
    return { file, result: client.get('f.bin', file) };
  };

  it('150 announcing 100 bytes, none sent, 226: Partial file, the old file kept', async () => {
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 Opening BINARY mode data connection (100 bytes)');
        await endData(await t.data(), Buffer.alloc(0));
        t.reply('226 done');
      },
    };
    const { file, result } = await getInto('announced.txt');
    await assert.rejects(
      result,
      (err: unknown) => err instanceof FerryError && /Partial file/.test(err.message),
    );
    assert.equal(await readFile(file, 'utf8'), 'old content', log.dump());
  });

  it('a bare FIN before the first byte (size unknown), then 226: failed, the old file kept', async () => {
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok');
        const s = await t.data();
        sendThenEnd(s, fx.server.raw.get(s) as net.Socket, Buffer.alloc(0), 'FIN');
        t.reply('226 done');
      },
    };
    const { file, result } = await getInto('fin.txt');
    await assert.rejects(
      result,
      (err: unknown) => err instanceof FerryError && /close_notify/.test(err.message),
    );
    assert.equal(await readFile(file, 'utf8'), 'old content', log.dump());
  });

  it('an empty data connection, then 426: failed, the old file kept', async () => {
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok');
        await endData(await t.data(), Buffer.alloc(0));
        t.reply('426 Connection closed; transfer aborted');
      },
    };
    const { file, result } = await getInto('refused.txt');
    await assert.rejects(result, (err: unknown) => err instanceof ReplyError && err.replyCode === 426);
    assert.equal(await readFile(file, 'utf8'), 'old content', log.dump());
  });

  it('an empty remote file downloaded whole (226) empties the local file', async () => {
    fx.server.script = {
      size: '213 0',
      maxVersion: 'TLSv1.2', // close_notify this soon after the handshake: see hostile-transfers
      transfer: async (t) => {
        t.reply('150 ok');
        await endData(await t.data(), Buffer.alloc(0));
        t.reply('226 done');
      },
    };
    const { file, result } = await getInto('empty.txt');
    await result;
    assert.equal(await readFile(file, 'utf8'), '', log.dump());
  });
});
