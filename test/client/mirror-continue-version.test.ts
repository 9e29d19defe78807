/**
 * `ferry mirror -c` continues only a destination file that can be a cut transfer of this source:
 * a smaller OLDER version (the last mirror gave it the older source's time) is sent whole, not
 * completed with the new file's tail (which left old start + new tail, called unchanged from then
 * on). Without a checksum the times decide (lftp's rule: the destination must be newer than the
 * source); where the server can checksum the remote file, an upload compares it with the local
 * file's first bytes, whatever the times.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry, sha256 } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

const env = { FERRY_PASSWORD: 'p' };
const OLD = Buffer.from('<h1>Old title</h1>\n'.repeat(100));
const NEW = Buffer.from('<h1>A new, longer title</h1>\n'.repeat(100));
const OLD_TIME = new Date('2024-01-02T03:04:05Z');
const NEW_TIME = new Date('2024-03-04T05:06:07Z');

describe('ferry mirror -c and another version of a file', { timeout: 60_000 }, () => {
  let tmp: string;
  let plain: FakeFtp;
  let hashing: FakeFtp;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-continue-version-'));
    plain = await FakeFtp.start({ features: ['MLSD', 'SIZE', 'REST STREAM'] });
    hashing = await FakeFtp.start({
      features: ['MLSD', 'SIZE', 'REST STREAM', 'XSHA256'],
      answer: (verb, arg) =>
        verb === 'XSHA256' ? `213 ${sha256(hashing.files.get(arg)?.data ?? Buffer.alloc(0))}` : undefined,
    });
  });
  after(async () => {
    await plain?.close();
    await hashing?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const url = (s: FakeFtp): string => `ftp://u@127.0.0.1:${s.port}/`;
  /** A local site holding `data` at time `t`. */
  const site = async (name: string, data: Buffer, t: Date): Promise<string> => {
    const d = path.join(tmp, name);
    await mkdir(d);
    const file = path.join(d, 'index.html');
    await writeFile(file, data);
    await utimes(file, t, t);
    return d;
  };
  const serve = (s: FakeFtp, data: Buffer, modified: Date): void => {
    s.files.clear();
    s.files.set('index.html', { data, modified });
    s.commands.length = 0;
  };

  it('an upload sends whole a smaller remote file older than the local one', async () => {
    serve(plain, OLD, OLD_TIME);
    const d = await site('up-older', NEW, NEW_TIME);
    const r = await ferry(['mirror', '--allow-plain', '-c', '--no-perms', d, url(plain)], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(plain.files.get('index.html')?.data, NEW);
    assert.ok(!plain.verbs.includes('APPE'), plain.commands.join('\n'));
    assert.match(r.stderr, /index\.html: not continued \(-c\): its time is not after the source's/);
  });

  it('an upload continues a smaller remote file newer than the local one (a cut upload)', async () => {
    serve(plain, NEW.subarray(0, 700), new Date(NEW_TIME.getTime() + 60_000));
    const d = await site('up-cut', NEW, NEW_TIME);
    const r = await ferry(['mirror', '--allow-plain', '-c', '--no-perms', d, url(plain)], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(plain.files.get('index.html')?.data, NEW);
    assert.ok(plain.commands.includes('APPE index.html'), plain.commands.join('\n'));
  });

  it('a download sends whole a smaller local file older than the remote one', async () => {
    serve(plain, NEW, NEW_TIME);
    const d = await site('down-older', OLD, OLD_TIME);
    const r = await ferry(['mirror', '--allow-plain', '-c', url(plain), d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'index.html')), NEW);
    assert.ok(!plain.verbs.includes('REST'), plain.commands.join('\n'));
    assert.match(r.stderr, /index\.html: not continued \(-c\)/);
  });

  it("with a checksum, an upload continues a remote file that is the local one's start, whatever its time", async () => {
    // A log the last mirror sent, grown since: the remote file is older, and exactly its start.
    serve(hashing, NEW.subarray(0, 700), OLD_TIME);
    const d = await site('up-prefix', NEW, NEW_TIME);
    const r = await ferry(['mirror', '--allow-plain', '-c', '--no-perms', d, url(hashing)], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(hashing.files.get('index.html')?.data, NEW);
    assert.ok(hashing.commands.includes('APPE index.html'), hashing.commands.join('\n'));
  });

  it("with a checksum, an upload sends whole a newer remote file that is not the local one's start", async () => {
    // A server that cannot set times: the older version carries the time it was sent.
    serve(hashing, OLD, new Date(NEW_TIME.getTime() + 60_000));
    const d = await site('up-other', NEW, NEW_TIME);
    const r = await ferry(['mirror', '--allow-plain', '-c', '--no-perms', d, url(hashing)], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(hashing.files.get('index.html')?.data, NEW);
    assert.ok(!hashing.verbs.includes('APPE'), hashing.commands.join('\n'));
    assert.match(
      r.stderr,
      /index\.html: not continued \(-c\): its checksum is not that of the source's first bytes/,
    );
  });
});
