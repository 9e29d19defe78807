/**
 * A server that offers checksums but refuses one (`550` no such file, `450` busy): `checksum()`
 * rejects with the refusal (ReplyError and its code), never `undefined`, which says the server offers
 * none. A command the server does not implement after all (`502`) gives way to the next one offered.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { ReplyError } from '../../src/errors.js';
import { ScriptedServer } from './support/scripted-server.js';

const HEX = 'd'.repeat(64);

/** FEAT offers HASH and XSHA256; what each answers depends on the file. */
class RefusingFtp extends ScriptedServer {
  protected session(sock: net.Socket): void {
    const reply = (text: string): boolean => sock.write(`${text}\r\n`);
    reply('220 refusing');
    this.commandLines(sock, (verb, arg) => {
      if (this.common(sock, verb, reply)) return;
      switch (verb) {
        case 'FEAT':
          return reply('211-Features:\r\n HASH SHA-256*\r\n XSHA256\r\n SIZE\r\n211 End');
        case 'TYPE':
          return reply('200 ok');
        case 'SIZE':
          return reply(arg === '/no-such-file' ? '550 No such file.' : '213 2');
        case 'HASH':
          if (arg === '/no-such-file') return reply('550 No such file.');
          if (arg === '/busy') return reply('450 Busy, try later.');
          return reply('502 HASH not implemented.');
        case 'XSHA256':
          return reply(`213 ${HEX}`);
        default:
          return reply('502 not here');
      }
    });
  }
}

describe('a refused checksum', () => {
  let server: RefusingFtp;
  before(async () => {
    server = await new RefusingFtp().listen();
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
