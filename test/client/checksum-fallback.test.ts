/**
 * A server whose HASH reply gives no checksum the client can read, but that offers XSHA256 too:
 * `checksum()` (and so `mirror --verify`) asks XSHA256 rather than give up on checksums.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { HashServer } from './support/hash-server.js';

const HEX = 'c'.repeat(64);

/** HASH answers 213 with text that is no HASH reply; XSHA256 answers. */
const oddHash = (): HashServer =>
  new HashServer({ banner: 'odd hash', xsha256: HEX, hash: () => '213-Computing\r\n213 done' });

describe('a HASH reply without a checksum', () => {
  let server: HashServer;
  before(async () => {
    server = await oddHash().listen();
  });
  after(() => server.close());

  it('falls back to XSHA256 when the server offers it', async () => {
    const client = await server.connect();
    assert.deepEqual(await client.checksum('f'), { algorithm: 'SHA-256', hex: HEX });
    assert.deepEqual(
      server.commands.filter((c) => /^(HASH|XSHA256) /.test(c)),
      ['HASH f', 'XSHA256 f'],
    );
  });
});
