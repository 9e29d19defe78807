import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  plainOnImplicitPort,
  silentOnImplicitPort,
  startsLikeCommand,
  startsTlsHandshake,
  tlsOnExplicitPort,
} from './wrong-mode.js';

describe('wrong-mode', () => {
  test('a TLS handshake record (type 22, version 3.x) is a ClientHello; a command line is not', () => {
    assert.ok(startsTlsHandshake(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])));
    assert.ok(startsTlsHandshake(Buffer.from([0x16])), 'one byte so far: no command starts so');
    assert.ok(!startsTlsHandshake(Buffer.from([0x16, 0x41])));
    assert.ok(!startsTlsHandshake(Buffer.from('USER alice\r\n')));
    assert.ok(!startsTlsHandshake(Buffer.alloc(0)));
  });

  test('a command starts with a letter; a ClientHello, SSLv2 hello or nothing does not', () => {
    assert.ok(startsLikeCommand(Buffer.from('USER alice\r\n')));
    assert.ok(startsLikeCommand(Buffer.from('feat\r\n')));
    assert.ok(!startsLikeCommand(Buffer.from([0x16, 0x03, 0x01])));
    assert.ok(!startsLikeCommand(Buffer.from([0x80, 0x2e])));
    assert.ok(!startsLikeCommand(Buffer.alloc(0)));
  });

  test('each line names the other port, or says there is none', () => {
    assert.equal(
      tlsOnExplicitPort(21, { explicit: 21, implicit: 990 }),
      'TLS ClientHello on the explicit port 21: this client wants implicit FTPS (port 990); closing',
    );
    assert.match(tlsOnExplicitPort(21, { explicit: 21 }), /does not serve: it must use explicit FTPS/);
    assert.equal(
      plainOnImplicitPort(990, { explicit: 21, implicit: 990 }),
      'plain FTP (no TLS) on the implicit port 990: use the explicit port 21 with AUTH TLS',
    );
    assert.match(
      plainOnImplicitPort(undefined, { implicit: 990 }),
      /^plain FTP \(no TLS\) on the implicit port: this server has no explicit port/,
    );
    assert.match(
      silentOnImplicitPort(990, { explicit: 21 }, 10),
      /^no TLS ClientHello on the implicit port 990 within 10 s: .*explicit port 21/,
    );
  });
});
