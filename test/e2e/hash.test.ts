/**
 * HASH (draft-bryan-ftpext-hash): FEAT lists the algorithms with the selected one starred; OPTS HASH
 * asks and selects; each algorithm's digest equals the file's; directories, missing files and
 * unknown algorithms are refused; hashing a large file streams (another session is answered
 * meanwhile). The `download` permission is checked in permissions.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { Crc32 } from '../../src/protocol/hash.js';
import { loggedIn, MODES, randomData, textOf, useFerry, withClients } from './harness.js';

const DIGESTS: Record<string, (b: Buffer) => string> = {
  'SHA-256': (b) => createHash('sha256').update(b).digest('hex'),
  'SHA-512': (b) => createHash('sha512').update(b).digest('hex'),
  'SHA-1': (b) => createHash('sha1').update(b).digest('hex'),
  MD5: (b) => createHash('md5').update(b).digest('hex'),
  CRC32: (b) => new Crc32().update(b).digest(),
};

describe('HASH', { timeout: 120_000 }, () => {
  const server = useFerry();
  const data = randomData(300_001);
  before(async () => {
    await writeFile(path.join(server().root, 'file one.bin'), data);
    await mkdir(path.join(server().root, 'dir'));
    await writeFile(path.join(server().root, 'big.bin'), randomData(96 << 20));
  });

  for (const mode of MODES) {
    test(`${mode}: every algorithm, selected with OPTS HASH and shown in FEAT`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(textOf(await ftp.cmd('OPTS HASH', 200)), 'SHA-256');
        for (const [alg, digest] of Object.entries(DIGESTS)) {
          assert.equal(textOf(await ftp.cmd(`OPTS HASH ${alg.toLowerCase()}`, 200)), alg);
          const feat = (await ftp.cmd('FEAT', 211)).lines.map((l) => l.trim());
          assert.ok(
            feat.includes(
              `HASH ${['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'].map((a) => (a === alg ? `${a}*` : a)).join(';')}`,
            ),
            feat.join('|'),
          );
          const r = await ftp.cmd('HASH file one.bin', 213);
          assert.equal(textOf(r), `${alg} 0-${data.length} ${digest(data)} file one.bin`);
        }
        const bad = await ftp.cmd('OPTS HASH SHA-3', 501);
        assert.match(textOf(bad), /Unknown hash algorithm/);
        assert.equal(textOf(await ftp.cmd('OPTS HASH', 200)), 'CRC32', 'a refused OPTS HASH changes nothing');
        await ftp.cmd('HASH dir', 550);
        await ftp.cmd('HASH missing', 550);
      });
    });
  }

  test('hashing a large file streams: another session is answered before the digest', async () => {
    await withClients(async (track) => {
      const a = track(await loggedIn(server(), 'explicit'));
      const b = track(await loggedIn(server(), 'explicit'));
      await a.cmd('OPTS HASH CRC32', 200);
      a.send('HASH big.bin');
      await b.cmd('NOOP', 200);
      assert.ok(a.noPendingReplies, 'the HASH reply came before the other session was answered');
      const r = await a.expect(213, 60_000);
      assert.match(textOf(r), /^CRC32 0-100663296 [0-9a-f]{8} big\.bin$/);
    });
  });
});
