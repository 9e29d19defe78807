/**
 * `ferry mirror -c` (lftp mirror -c): a destination file smaller than the source, left by an
 * interrupted mirror, is continued (REST for a download, APPE for an upload) rather than sent
 * again from its first byte; without -c it is sent whole, as before. What -c refuses: to continue a
 * destination file that is empty or not smaller than the source (it is sent whole), and to take a
 * continued file that does not end up the source's size, or with --verify not the source's
 * checksum (its first bytes were not the source's): the mirror fails (exit 6) and says why. An
 * upload to a server with a checksum compares the remote file with the local one's start before it
 * continues it (mirror-continue-version.test.ts has the other versions of a file).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry, sha256 } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

const env = { FERRY_PASSWORD: 'p' };
const BODY = Buffer.from('0123456789abcdef'.repeat(4096)); // 64 KiB
const HELD = 5000;

describe('ferry mirror --continue', { timeout: 60_000 }, () => {
  let tmp: string;
  let server: FakeFtp;
  let url: string;
  /** A test's own answer to a command (undefined: the server's usual one). */
  let quirk: ((verb: string, arg: string) => string | undefined) | undefined;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-continue-'));
    server = await FakeFtp.start({
      features: ['MLSD', 'SIZE', 'REST STREAM', 'XSHA256'],
      answer: (verb, arg) => {
        if (verb === 'XSHA256') return `213 ${sha256(server.files.get(arg)?.data ?? Buffer.alloc(0))}`;
        return quirk?.(verb, arg);
      },
    });
    url = `ftp://u@127.0.0.1:${server.port}/`;
  });

  after(async () => {
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const partialDownload = async (name: string, held = BODY.subarray(0, HELD)): Promise<string> => {
    quirk = undefined;
    server.files.clear();
    server.files.set('big.bin', { data: BODY, modified: new Date('2024-01-02T03:04:05Z') });
    server.commands.length = 0;
    const d = path.join(tmp, name);
    await mkdir(d);
    await writeFile(path.join(d, 'big.bin'), held);
    return d;
  };

  it('a download continues a smaller local file with REST', async () => {
    const d = await partialDownload('down');
    const r = await ferry(['mirror', '--allow-plain', '-c', url, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
    assert.ok(server.commands.includes(`REST ${HELD}`), server.commands.join('\n'));
    // Only what travelled is counted.
    assert.match(
      r.stderr,
      new RegExp(`Transferred 1 file\\(s\\), ${((BODY.length - HELD) / 1024).toFixed(1)} KiB`),
    );
  });

  it('without -c the file is sent whole', async () => {
    const d = await partialDownload('whole');
    const r = await ferry(['mirror', '--allow-plain', url, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
    assert.ok(!server.verbs.includes('REST'), server.commands.join('\n'));
  });

  it('an upload continues a smaller remote file with APPE', async () => {
    quirk = undefined;
    server.files.clear();
    server.files.set('big.bin', { data: BODY.subarray(0, HELD), modified: new Date() });
    server.commands.length = 0;
    const d = path.join(tmp, 'up');
    await mkdir(d);
    await writeFile(path.join(d, 'big.bin'), BODY);
    const r = await ferry(['mirror', '--allow-plain', '--continue', '--no-perms', d, url], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(server.files.get('big.bin')?.data, BODY);
    assert.ok(server.commands.includes('APPE big.bin'), server.commands.join('\n'));
  });

  it('refuses to continue a local file that is empty or not smaller: sent whole', async () => {
    for (const held of [Buffer.alloc(0), Buffer.concat([BODY, Buffer.from('more')])]) {
      const d = await partialDownload(`whole-${held.length}`, held);
      const r = await ferry(['mirror', '--allow-plain', '-c', url, d], env);
      assert.equal(r.code, EXIT.ok, r.stderr);
      assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
      assert.ok(!server.verbs.includes('REST'), server.commands.join('\n'));
    }
  });

  it("refuses a continued download that is not the source's size", async () => {
    const d = await partialDownload('shrunk');
    // The file shrinks between the listing and the RETR (a log rotated): REST goes on to its new end.
    quirk = (verb) => {
      if (verb === 'RETR')
        server.files.set('big.bin', { data: BODY.subarray(0, BODY.length - 100), modified: new Date() });
      return undefined;
    };
    const r = await ferry(['mirror', '--allow-plain', '-c', url, d], env);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.ok(server.commands.includes(`REST ${HELD}`), server.commands.join('\n'));
    assert.match(
      r.stderr,
      new RegExp(
        `big\\.bin was continued \\(-c\\), but has ${BODY.length - 100} bytes, not the ${BODY.length} of the source`,
      ),
    );
  });

  it("does not continue a newer local file whose last bytes are not the source's: sent whole", async () => {
    const d = await partialDownload('foreign', Buffer.alloc(HELD, 'x'));
    const r = await ferry(['mirror', '--allow-plain', '-c', url, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
    assert.match(r.stderr, /big\.bin: not continued \(-c\): its last bytes are not the source's/);
  });

  it("with --verify, refuses a continued download whose first bytes were not the source's", async () => {
    // Longer than the last bytes compared before continuing: a difference before them shows only
    // in the checksum after.
    const body = Buffer.concat([BODY, BODY, BODY]);
    const held = Buffer.from(body.subarray(0, 100 * 1024));
    held[0] = 0x78;
    const d = await partialDownload('foreign-start', held);
    server.files.set('big.bin', { data: body, modified: new Date('2024-01-02T03:04:05Z') });
    const r = await ferry(['mirror', '--allow-plain', '-c', '--verify', url, d], env);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.ok(server.commands.includes(`REST ${held.length}`), server.commands.join('\n'));
    assert.match(
      r.stderr,
      /big\.bin was continued \(-c\), but its SHA-256 differs from the source's: what it held was not the source's start; mirror it again without -c/,
    );
    // What was sent for it is said, though no file was transferred.
    const moved = `${((body.length - held.length) / 1024).toFixed(1)} KiB`;
    assert.match(r.stderr, new RegExp(`Transferred 0 of 1 file\\(s\\), 0 B; 1 failed after moving ${moved}`));
    // As it says: without -c the same size and another checksum send it whole.
    const again = await ferry(['mirror', '--allow-plain', '--verify', url, d], env);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), body);
  });

  it("an upload does not continue a remote file whose checksum is not the source's start: sent whole", async () => {
    quirk = undefined;
    server.files.clear();
    server.files.set('big.bin', { data: Buffer.alloc(HELD, 'x'), modified: new Date() });
    server.commands.length = 0;
    const d = path.join(tmp, 'up-foreign');
    await mkdir(d);
    await writeFile(path.join(d, 'big.bin'), BODY);
    const r = await ferry(['mirror', '--allow-plain', '-c', '--verify', '--no-perms', d, url], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.ok(!server.verbs.includes('APPE'), server.commands.join('\n'));
    assert.deepEqual(server.files.get('big.bin')?.data, BODY);
    assert.match(
      r.stderr,
      /big\.bin: not continued \(-c\): its checksum is not that of the source's first bytes/,
    );
  });
});
