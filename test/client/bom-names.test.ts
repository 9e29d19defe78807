/**
 * Names that begin with U+FEFF (a byte order mark, `%EF%BB%BF` in a URL) are names like any other:
 * `ferry rm` and `ferry put` by such a URL touch that name, not the one without the mark (rm
 * deleted `notes.txt` for `%EF%BB%BFnotes.txt`, put created `bom2`), and `ferry mirror` uploads a
 * local `\ufeffnotes.txt` under its own name (it stopped with ENOENT on `notes.txt`).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { CliResult } from './helpers.js';
import { useFerryFixture } from './ferry-fixture.js';
import { baseUrl, cliOf } from './support/cli-fixture.js';

const BOM = '\ufeff';

describe('names beginning with a byte order mark', { timeout: 120_000 }, () => {
  const f = useFerryFixture('ferry-bom-names-');
  const cli = (args: readonly string[]): Promise<CliResult> =>
    cliOf(f, [args[0] ?? '', '--quiet', ...args.slice(1)]);
  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  it('rm and put by a %EF%BB%BF URL touch the name with the mark', async () => {
    const dir = path.join(f.ts.root, 'pt');
    await mkdir(dir);
    await writeFile(path.join(dir, 'notes.txt'), 'plain\n');
    await writeFile(path.join(dir, `${BOM}notes.txt`), 'marked\n');
    ok(await cli(['rm', `${baseUrl(f)}/pt/%EF%BB%BFnotes.txt`]));
    assert.deepEqual(await readdir(dir), ['notes.txt']);
    assert.equal(await readFile(path.join(dir, 'notes.txt'), 'utf8'), 'plain\n');

    const src = path.join(f.dir, 'up.txt');
    await writeFile(src, 'up\n');
    ok(await cli(['put', src, `${baseUrl(f)}/pt/%EF%BB%BFbom2`]));
    assert.deepEqual((await readdir(dir)).sort(), ['notes.txt', `${BOM}bom2`]);
  });

  it('mirror uploads a local name with the mark under that name', async () => {
    const src = path.join(f.dir, 'bomsrc');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'a\n');
    await writeFile(path.join(src, `${BOM}notes.txt`), 'marked\n');
    ok(await cli(['mirror', src, `${baseUrl(f)}/bomdst`]));
    const dst = path.join(f.ts.root, 'bomdst');
    assert.deepEqual((await readdir(dst)).sort(), ['a.txt', `${BOM}notes.txt`]);
    assert.equal(await readFile(path.join(dst, `${BOM}notes.txt`), 'utf8'), 'marked\n');
  });
});
