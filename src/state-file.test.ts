// Ferry's own state files (bans, usage) are read without following links, and a damaged one is
// reported without quoting it: as root, before a --run-as drop, a link could name /etc/shadow.
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBanFile } from './defender/ban-file.js';
import { FerryError } from './errors.js';
import { parseStateJson, readStateFile } from './state-file.js';

const SECRET = 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::';

describe('state files', () => {
  it('a state file that is a symbolic link is refused, naming the file and nothing of the target', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-state-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const target = join(dir, 'shadow');
    await writeFile(target, SECRET, { mode: 0o600 });
    const bans = join(dir, 'bans.json');
    await symlink(target, bans);
    const refused = (err: unknown): boolean =>
      err instanceof FerryError && /symbolic link/.test(err.message) && !err.message.includes('SECRET');
    await assert.rejects(readStateFile(bans), refused);
    await assert.rejects(readBanFile(bans), refused);
    assert.equal(await readStateFile(join(dir, 'missing.json')), undefined);
  });

  it('a damaged one is reported without an excerpt of it', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-state-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const bans = join(dir, 'bans.json');
    await writeFile(bans, SECRET);
    await assert.rejects(
      readBanFile(bans),
      (err: unknown) =>
        err instanceof FerryError &&
        /not valid JSON/.test(err.message) &&
        !err.message.includes('SECRET') &&
        !err.message.includes(SECRET.slice(0, 4)), // V8 quotes the first 10 characters
    );
    assert.deepEqual(parseStateJson(bans, '{"a":1}'), { a: 1 });
  });
});
