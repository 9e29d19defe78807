/**
 * FEAT (RFC 2389, MS-FTPS 3.2.5.5): `211-` header, one feature per line with one leading space,
 * `211 End`; AUTH lists SSL; CCC only when the server allows it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RawFtp } from '../support/raw-ftp.js';
import { connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';
import type { Reply } from '../../src/protocol/reply.js';

/** What Ferry advertises; the MLST line lists every fact it supports, starred when enabled. */
const EXPECTED = [
  ' AUTH TLS;SSL;',
  ' PBSZ',
  ' PROT C;P;',
  ' UTF8',
  ' EPSV',
  ' EPRT',
  ' MLST type*;size*;modify*;perm*;unique*;unix.mode*;',
  ' SIZE',
  ' MDTM',
  ' MFMT',
  ' HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32',
  ' REST STREAM',
  ' TVFS',
  ' HOST',
  ' LANG EN*',
];

function checkFormat(r: Reply, raw: string): string[] {
  assert.equal(r.code, 211);
  assert.ok(r.lines.length >= 3, 'multi-line reply');
  assert.match(raw, /^211-.*\r\n/, 'starts with 211-');
  assert.match(raw, /\r\n211 [^\r\n]*\r\n$/, 'ends with "211 <text>"');
  const features = r.lines.slice(1, -1);
  for (const f of features) assert.match(f, /^ [^ ]/, `one leading space: ${JSON.stringify(f)}`);
  assert.equal(new Set(features).size, features.length, 'no feature twice');
  return features;
}

async function feat(ftp: RawFtp): Promise<string[]> {
  const before = ftp.secure ? -1 : ftp.rawReceived.length;
  const r = await ftp.cmd('FEAT', 211);
  const raw = before >= 0 ? Buffer.concat(ftp.rawReceived.slice(before)).toString('utf8') : undefined;
  // In TLS the wire bytes are encrypted: rebuild the text from the parsed lines.
  const text =
    raw ??
    `211-${r.lines[0]}\r\n${r.lines
      .slice(1, -1)
      .map((l) => l + '\r\n')
      .join('')}211 ${r.lines[r.lines.length - 1] ?? ''}\r\n`;
  return checkFormat(r, text);
}

describe('FEAT', { timeout: 60_000 }, () => {
  const server = useFerry();

  for (const mode of MODES) {
    test(`${mode}: lists the expected features, and no CCC by default`, async () => {
      await withClients(async (track) => {
        const ftp = track(await connectSecure(server(), mode));
        const features = await feat(ftp);
        for (const f of EXPECTED)
          assert.ok(features.includes(f), `missing ${JSON.stringify(f)} in ${features.join('|')}`);
        assert.ok(!features.some((f) => f.trim() === 'CCC'), 'CCC advertised although refused');
        // HELP agrees: no CCC in the list, and no syntax for a command that gets 533.
        assert.doesNotMatch(textOf(await ftp.cmd('HELP', 214)), /\bCCC\b/);
        assert.match(textOf(await ftp.cmd('HELP CCC', 501)), /CCC is not offered/);
      });
    });
  }

  test('explicit: FEAT works in clear before AUTH (byte-exact format on the wire)', async () => {
    await withClients(async (track) => {
      const ftp = track(
        await RawFtp.connect({ host: server().host, port: server().explicitPort, implicit: false }),
      );
      await ftp.expect(220);
      const features = await feat(ftp);
      for (const f of EXPECTED) assert.ok(features.includes(f), `missing ${JSON.stringify(f)}`);
    });
  });
});

describe('FEAT with allowCcc', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('explicit: CCC is listed', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      const features = await feat(ftp);
      assert.ok(features.includes(' CCC'), features.join('|'));
      for (const f of EXPECTED) assert.ok(features.includes(f), `missing ${JSON.stringify(f)}`);
      assert.match(textOf(await ftp.cmd('HELP', 214)), /\bCCC\b/);
      await ftp.cmd('HELP CCC', 214);
    });
  });

  test('implicit: CCC is not listed, since it is always refused there (MS-FTPS 3.2.5.2)', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      const features = await feat(ftp);
      await ftp.cmd('CCC', 533);
      assert.ok(!features.includes(' CCC'), `CCC advertised on implicit FTPS: ${features.join('|')}`);
      assert.doesNotMatch(textOf(await ftp.cmd('HELP', 214)), /\bCCC\b/);
    });
  });
});
