/**
 * A resumed download whose continuation the client cannot check. After REST the only sign that the
 * server sent from the offset (and not the whole file from byte 0, REST answered 350 and ignored)
 * is the byte count against the file's size: without SIZE there is none, so the file is downloaded
 * whole rather than the whole file appended to the kept bytes. A size the caller knew (a listing's,
 * as a mirror's retry passes) does not stand for SIZE then: SIZE is asked, and an overrun is caught.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { OverrunError } from '../../src/client/errors.js';
import { DialogueLog, ferry } from './helpers.js';
import { HostileServer, endData } from './support/hostile-server.js';

const REMOTE = Buffer.concat([Buffer.alloc(50, 'y'), Buffer.alloc(50, 'z')]);

describe('a resumed download the client cannot check', { timeout: 30_000 }, () => {
  let server: HostileServer;
  let dir = '';
  const log = new DialogueLog();

  before(async () => {
    server = await HostileServer.start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-unchecked-'));
  });

  after(async () => {
    await server?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  // The server ignores REST: every RETR sends the whole file. TLS 1.2: a TLS 1.3 close_notify right
  // after the handshake can be lost behind the session tickets (hostile-transfers.test.ts).
  const wholeFile = async (t: Parameters<HostileServer['script']['transfer']>[0]): Promise<void> => {
    t.reply('150 ok');
    await endData(await t.data(), REMOTE);
    t.reply('226 done');
  };

  it('without SIZE: downloaded whole, not appended after the kept bytes', async () => {
    server.script = { maxVersion: 'TLSv1.2', transfer: wholeFile };
    server.commands.length = 0;
    const file = path.join(dir, 'no-size.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const client = await server.connect({ log: log.log });
    const r = await client.get('f.bin', file, { resume: true });
    assert.deepEqual(await readFile(file), REMOTE, log.dump());
    assert.equal(r.offset, 0);
    assert.ok(!server.commands.some((c) => c.startsWith('REST')), log.dump());
    assert.match(log.dump(), /no size.*whole/i);
  });

  it('ferry get -c without SIZE: the whole file, and a note saying it was not resumed', async () => {
    server.script = { maxVersion: 'TLSv1.2', transfer: wholeFile };
    const file = path.join(dir, 'cli.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const ca = path.join(dir, 'ca.pem');
    await writeFile(ca, server.certificate);
    const url = `ftps://u@127.0.0.1:${server.port}/f.bin`;
    const r = await ferry(['get', '-c', '--ca', ca, url, file], { FERRY_PASSWORD: 'p' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(file), REMOTE);
    assert.match(r.stderr, /Not resumed: the server tells no size \(SIZE\)/);
  });

  it('with a size the caller knew: SIZE is asked, and an overrun is caught', async () => {
    server.script = { size: '213 100', maxVersion: 'TLSv1.2', transfer: wholeFile };
    const file = path.join(dir, 'known-size.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const client = await server.connect({ log: log.log });
    await assert.rejects(client.get('f.bin', file, { resume: true, size: 100 }), OverrunError);
    assert.deepEqual(await readFile(file), REMOTE.subarray(0, 50), log.dump());
  });
});
