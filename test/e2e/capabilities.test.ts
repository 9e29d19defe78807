/**
 * Storage capabilities are real: FEAT, SITE HELP and the MLSx perm fact follow the storage's
 * features and the user's permissions, and commands needing a missing feature are refused (502).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import { forwardingStorage } from '../support/forwarding-storage.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { connectSecure, loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

async function features(ftp: RawFtp): Promise<string[]> {
  const r = await ftp.cmd('FEAT', 211);
  return r.lines.slice(1, -1).map((l) => l.trim());
}

describe('a storage without chmod and set-modified', { timeout: 60_000 }, () => {
  const server = useFerry({
    storageFor: () =>
      new MemoryStorage({
        features: ['restart-read', 'restart-write', 'append'],
        files: { '/a.txt': 'hello' },
      }),
  });

  for (const mode of MODES) {
    test(`${mode}: FEAT after login lists no MFMT; MFMT and SITE CHMOD → 502; SITE HELP has no CHMOD`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const feat = await features(ftp);
        assert.ok(!feat.includes('MFMT'), feat.join('|'));
        assert.ok(feat.includes('REST STREAM') && feat.includes('SIZE'), feat.join('|'));
        await ftp.cmd('MFMT 20200102030405 a.txt', 502);
        await ftp.cmd('SITE CHMOD 644 a.txt', 502);
        assert.doesNotMatch(textOf(await ftp.cmd('SITE HELP', 214)), /CHMOD/);
        assert.match(textOf(await ftp.cmd('MLST a.txt', 250)), /perm=rwadf;/);
      });
    });
  }

  test('before login FEAT lists what the server offers (the storage is not known yet)', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      assert.ok((await features(ftp)).includes('MFMT'));
    });
  });
});

describe('a storage without restart and append', { timeout: 60_000 }, () => {
  const server = useFerry({
    storageFor: () => new MemoryStorage({ features: [], files: { '/a.txt': 'hello' } }),
  });

  test('no REST STREAM in FEAT; REST + RETR, REST + STOR and APPE → 502', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      assert.ok(!(await features(ftp)).includes('REST STREAM'));
      await ftp.cmd('REST 2', 350);
      await ftp.cmd('RETR a.txt', 502);
      await ftp.cmd('REST 2', 350);
      await ftp.cmd('STOR a.txt', 502);
      await ftp.cmd('APPE a.txt', 502);
      assert.equal((await ftp.retrieve('a.txt')).toString(), 'hello');
    });
  });
});

describe('a storage flagging chmod and set-modified without their methods', { timeout: 60_000 }, () => {
  const server = useFerry({
    storageFor: () => forwardingStorage(new MemoryStorage({ files: { '/a.txt': 'hello' } })),
  });

  test('FEAT lists no MFMT and SITE HELP no CHMOD, as the commands answer 502', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      const feat = await features(ftp);
      assert.ok(!feat.includes('MFMT'), feat.join('|'));
      assert.doesNotMatch(textOf(await ftp.cmd('SITE HELP', 214)), /CHMOD/);
      await ftp.cmd('MFMT 20200102030405 a.txt', 502);
      await ftp.cmd('SITE CHMOD 644 a.txt', 502);
    });
  });
});
