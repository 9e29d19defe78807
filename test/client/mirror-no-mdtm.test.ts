/**
 * A download from a LIST-only server without MDTM cannot tell a same-size file changed within its
 * listed minute from an unchanged one: such files are fetched again (the safe side), and the run
 * says so once, with the way out (--size-only), rather than re-fetching them silently every run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorOptions } from '../../src/client/mirror.js';
import { NO_MDTM } from '../../src/client/mirror-compare.js';
import { FakeFtp } from './support/fake-ftp.js';

test('a server without MDTM: same-size files in their listed minute are fetched again, said once', async () => {
  const server = await FakeFtp.start({ features: ['SIZE', 'REST STREAM'] });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-no-mdtm-'));
  try {
    for (let i = 0; i < 5; i++)
      server.files.set(`f${i}.txt`, { data: Buffer.from(`file ${i}`), modified: new Date() });
    const client = await FerryClient.connect({
      host: '127.0.0.1',
      port: server.port,
      security: 'none',
      allowPlain: true,
      user: 'u',
      password: 'p',
    });
    try {
      const o: MirrorOptions = { direction: 'download', local: tmp, remote: '', perms: false };
      await mirror(client, o);
      const notes: string[] = [];
      const again = await mirror(client, {
        ...o,
        onEvent: (e) => {
          if (e.kind === 'note') notes.push(e.message);
        },
      });
      assert.equal(again.files.length, 5);
      assert.deepEqual(notes, [NO_MDTM]);
      const sizeOnly = await mirror(client, { ...o, sizeOnly: true });
      assert.equal(sizeOnly.files.length, 0);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
});
