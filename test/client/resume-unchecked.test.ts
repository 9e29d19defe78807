/**
 * A resumed download whose continuation the client cannot check. After REST the only sign that the
 * server sent from the offset (and not the whole file from byte 0, REST answered 350 and ignored)
 * is the byte count against the file's size: without SIZE there is none, so the file is downloaded
 * whole rather than the whole file appended to the kept bytes. A size the caller knew (a listing's,
 * as a mirror's retry passes) does not stand for SIZE then: SIZE is asked, and an overrun is caught.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { OverrunError } from '../../src/client/errors.js';
import { ferry } from './helpers.js';
import { endData, type Turn, useHostileServer } from './support/hostile-server.js';

const REMOTE = Buffer.concat([Buffer.alloc(50, 'y'), Buffer.alloc(50, 'z')]);

describe('a resumed download the client cannot check', { timeout: 30_000 }, () => {
  const fx = useHostileServer('ferry-unchecked-');
  const { log } = fx;

  // The server ignores REST: every RETR sends the whole file. TLS 1.2: a TLS 1.3 close_notify right
  // after the handshake can be lost behind the session tickets (hostile-transfers.test.ts).
  const wholeFile = async (t: Turn): Promise<void> => {
    t.reply('150 ok');
    await endData(await t.data(), REMOTE);
    t.reply('226 done');
  };

  it('without SIZE: downloaded whole, not appended after the kept bytes', async () => {
    fx.server.script = { maxVersion: 'TLSv1.2', transfer: wholeFile };
    fx.server.commands.length = 0;
    const file = path.join(fx.dir, 'no-size.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const client = await fx.server.connect({ log: log.log });
    const r = await client.get('f.bin', file, { resume: true });
    assert.deepEqual(await readFile(file), REMOTE, log.dump());
    assert.equal(r.offset, 0);
    assert.ok(!fx.server.commands.some((c) => c.startsWith('REST')), log.dump());
    assert.match(log.dump(), /no size.*whole/i);
  });

  it('ferry get -c without SIZE: the whole file, and a note saying it was not resumed', async () => {
    fx.server.script = { maxVersion: 'TLSv1.2', transfer: wholeFile };
    const file = path.join(fx.dir, 'cli.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const ca = path.join(fx.dir, 'ca.pem');
    await writeFile(ca, fx.server.certificate);
    const url = `ftps://u@127.0.0.1:${fx.server.port}/f.bin`;
    const r = await ferry(['get', '-c', '--ca', ca, url, file], { FERRY_PASSWORD: 'p' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(file), REMOTE);
    assert.match(r.stderr, /Not resumed: the server tells no size \(SIZE\)/);
  });

  it('with a size the caller knew: SIZE is asked, and an overrun is caught', async () => {
    fx.server.script = { size: '213 100', maxVersion: 'TLSv1.2', transfer: wholeFile };
    const file = path.join(fx.dir, 'known-size.bin');
    await writeFile(file, REMOTE.subarray(0, 50));
    const client = await fx.server.connect({ log: log.log });
    await assert.rejects(client.get('f.bin', file, { resume: true, size: 100 }), OverrunError);
    assert.deepEqual(await readFile(file), REMOTE.subarray(0, 50), log.dump());
  });
});
