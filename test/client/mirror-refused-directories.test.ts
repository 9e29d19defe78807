/**
 * A directory the destination refuses to make fails that directory alone, as lftp's mirror does:
 * the server's `550 File name not allowed.` to MKD of a name holding a backslash (upload), a local
 * mkdir failing with ENAMETOOLONG (download). Nothing under it is tried, the rest of the tree is
 * mirrored, the directory is named (`failed …`) and the exit status says the mirror failed (6 for
 * the server's refusal, 7 for the local one); it ended the whole mirror before, nothing transferred.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { CliResult } from './helpers.js';
import { useFerryFixture } from './ferry-fixture.js';
import { baseUrl, cliOf } from './support/cli-fixture.js';

describe('mirror: a directory the destination refuses', { timeout: 120_000 }, () => {
  const f = useFerryFixture('ferry-mirror-refused-dirs-');
  const mirrorCli = (args: readonly string[]): Promise<CliResult> => cliOf(f, ['mirror', ...args]);
  const put = async (file: string, content: string): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  };

  it('upload: MKD refused (550) fails that directory, the rest is sent, exit 6', async () => {
    const src = path.join(f.dir, 'up');
    await put(path.join(src, 'top.txt'), 'top\n');
    await put(path.join(src, 'back\\slash', 'under.txt'), 'under\n');
    await put(path.join(src, 'good', 'g.txt'), 'g\n');
    const r = await mirrorCli([src, `${baseUrl(f)}/updst`]);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.match(r.stderr, /failed back\\\\?slash: .*550/);
    assert.match(r.stderr, /Transferred 2 of 2 file\(s\), .*; 1 directory not made; /);
    const dst = path.join(f.ts.root, 'updst');
    assert.deepEqual((await readdir(dst)).sort(), ['good', 'top.txt']);
    assert.equal(await readFile(path.join(dst, 'good', 'g.txt'), 'utf8'), 'g\n');
  });

  it('download: a local mkdir failing (ENAMETOOLONG) fails that directory, the rest is fetched, exit 7', async () => {
    const long = 'n'.repeat(250);
    await put(path.join(f.ts.root, 'down', 'top.txt'), 'top\n');
    await put(path.join(f.ts.root, 'down', long, 'b.txt'), 'b\n');
    await put(path.join(f.ts.root, 'down', 'short', 'a.txt'), 'a\n');
    // A local root deep enough that its path and the long name pass PATH_MAX (4096), the rest not.
    let local = path.join(f.dir, 'deep');
    while (local.length < 3800) local = path.join(local, 'd'.repeat(200));
    const r = await mirrorCli([`${baseUrl(f)}/down`, local]);
    assert.equal(r.code, EXIT.local, r.stderr);
    assert.match(r.stderr, new RegExp(`failed ${long}: .*ENAMETOOLONG|failed ${long}: .*too long`, 'i'));
    assert.deepEqual((await readdir(local)).sort(), ['short', 'top.txt']);
    assert.equal(await readFile(path.join(local, 'short', 'a.txt'), 'utf8'), 'a\n');
  });
});
