/**
 * SIZE under TYPE A reads the file to count its bare LFs: only up to ASCII_SIZE_MAX, so a SIZE of a
 * large file (Python ftplib's size() sends it in the default TYPE A) cannot read gigabytes each time.
 * Above it SIZE refuses and says to use TYPE I; MLST's size fact and STAT stay the octets on disk.
 */
import assert from 'node:assert/strict';
import { appendFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ASCII_SIZE_MAX } from '../../src/server/commands/files.js';
import { loggedIn, textOf, useFerry, withClients } from './harness.js';

/** A sparse file of `size` bytes whose last byte is a bare LF (TYPE A sends one byte more). */
async function textFile(file: string, size: number): Promise<void> {
  await writeFile(file, '');
  await truncate(file, size - 1);
  await appendFile(file, '\n');
}

describe('SIZE under TYPE A of a large file', { timeout: 60_000 }, () => {
  const server = useFerry();

  test('is counted up to the limit, refused above it with 550 naming TYPE I; TYPE I, MLST and STAT give the size on disk', async () => {
    await textFile(path.join(server().root, 'at-limit.txt'), ASCII_SIZE_MAX);
    await textFile(path.join(server().root, 'over-limit.txt'), ASCII_SIZE_MAX + 1);
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE A', 200);
      assert.equal(textOf(await ftp.cmd('SIZE at-limit.txt', 213)), String(ASCII_SIZE_MAX + 1));
      assert.equal(
        textOf(await ftp.cmd('SIZE over-limit.txt', 550)),
        'SIZE not counted in TYPE A (ASCII) for a file over 16 MiB: send TYPE I for its size in bytes.',
      );
      const onDisk = String(ASCII_SIZE_MAX + 1);
      assert.match(textOf(await ftp.cmd('MLST over-limit.txt', 250)), new RegExp(`[;\\s]size=${onDisk};`));
      assert.match(textOf(await ftp.cmd('STAT over-limit.txt', 213)), new RegExp(` ${onDisk} `));
      await ftp.cmd('TYPE I', 200);
      assert.equal(textOf(await ftp.cmd('SIZE over-limit.txt', 213)), onDisk);
    });
  });
});
