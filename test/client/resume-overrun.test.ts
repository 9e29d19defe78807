/**
 * A resumed download that the server overruns (REST accepted, RETR sent from byte 0): the bytes
 * this attempt wrote are not the remote file's from the offset on. The local file is cut back to
 * where the attempt started, and the failure is not one to retry (another try meets the same).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { isTransient } from '../../src/client/errors.js';
import { FerryError } from '../../src/errors.js';
import { useHostileServer } from './support/hostile-server.js';

describe('a resumed download the server overruns', { timeout: 30_000 }, () => {
  const fx = useHostileServer('ferry-overrun-');
  const { log } = fx;

  it('is cut back to its offset and not retried as transient', async () => {
    // SIZE 100, REST 50 accepted, then the file from 0 in two TLS records of 50 bytes.
    fx.server.script = {
      size: '213 100',
      transfer: async (t) => {
        t.reply('150 ok');
        const s = await t.data();
        s.resume();
        s.write(Buffer.alloc(50, 'y'));
        s.end(Buffer.alloc(50, 'z'));
        t.reply('226 done');
      },
    };
    const file = path.join(fx.dir, 'resumed.bin');
    await writeFile(file, Buffer.alloc(50, 'a'));
    const client = await fx.server.connect({ log: log.log });
    const err = await client.get('f.bin', file, { resume: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof FerryError && /more than the 50 bytes/.test(err.message), String(err));
    assert.equal(isTransient(err), false);
    assert.deepEqual(await readFile(file), Buffer.alloc(50, 'a'), log.dump());
  });
});
