/**
 * A server whose HASH reply gives no checksum the client can read, but that offers XSHA256 too:
 * `checksum()` (and so `mirror --verify`) asks XSHA256 rather than give up on checksums.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { ScriptedServer } from './support/scripted-server.js';

const HEX = 'c'.repeat(64);

/** FEAT offers HASH and XSHA256; HASH answers 213 with text that is no HASH reply. */
class OddHashFtp extends ScriptedServer {
  protected session(sock: net.Socket): void {
    const reply = (text: string): boolean => sock.write(`${text}\r\n`);
    reply('220 odd hash');
    this.commandLines(sock, (verb) => {
      if (this.common(sock, verb, reply)) return;
      switch (verb) {
        case 'FEAT':
          return reply('211-Features:\r\n HASH SHA-256*\r\n XSHA256\r\n SIZE\r\n211 End');
        case 'TYPE':
          return reply('200 ok');
        case 'SIZE':
          return reply('213 2');
        case 'HASH':
          return reply('213-Computing\r\n213 done');
        case 'XSHA256':
          return reply(`213 ${HEX}`);
        default:
          return reply('502 not here');
      }
    });
  }
}

describe('a HASH reply without a checksum', () => {
  let server: OddHashFtp;
  before(async () => {
    server = await new OddHashFtp().listen();
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
