/**
 * A server that offers checksums but refuses one (`550` no such file, `450` busy): `checksum()`
 * rejects with the refusal (ReplyError and its code), never `undefined`, which says the server offers
 * none. A command the server does not implement after all (`502`) gives way to the next one offered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ReplyError } from '../../src/errors.js';
import { HashServer } from './support/hash-server.js';

const HEX = 'd'.repeat(64);

/** HASH refuses two files and is not implemented for the rest; XSHA256 answers. */
const refusing = (): HashServer =>
  new HashServer({
    banner: 'refusing',
    xsha256: HEX,
    size: (path) => (path === '/no-such-file' ? '550 No such file.' : '213 2'),
    hash: (path) => {
      if (path === '/no-such-file') return '550 No such file.';
      if (path === '/busy') return '450 Busy, try later.';
      return '502 HASH not implemented.';
    },
  });

describe('a refused checksum', () => {
  let server: HashServer;
  before(async () => {
    server = await refusing().listen();
  });
  after(() => server.close());

  for (const [path, code] of [
    ['/no-such-file', 550],
    ['/busy', 450],
  ] as const) {
    it(`${code}: rejects with the reply, asks nothing more`, async () => {
      const client = await server.connect();
      await assert.rejects(client.checksum(path), (err: unknown) => {
        assert.ok(err instanceof ReplyError, String(err));
        assert.equal(err.replyCode, code);
        assert.match(err.message, new RegExp(`^HASH ${path}: ${code} `));
        return true;
      });
      assert.deepEqual(
        server.commands.filter((c) => c.startsWith('XSHA256')),
        [],
      );
      assert.equal((await client.send('NOOP')).code, 502);
      await client.close();
    });
  }

  it('502 to HASH: the next command offered answers', async () => {
    const client = await server.connect();
    assert.deepEqual(await client.checksum('/f'), { algorithm: 'SHA-256', hex: HEX });
    await client.close();
  });
});
