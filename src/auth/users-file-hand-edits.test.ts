/**
 * A rewrite of the users file (`ferry users`, the server's upgrade of a migrated hash) beside a hand
 * edit saved by an editor, which takes no lock: the edit is never undone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { readUsersFile, UsersFileDirectory, writeUsersFile } from './users-file.js';

const OLD = '$1$abcdefgh$fXRNqNoBfI.lkg9wkvzNq/';
const NEW = '$1$ijklmnop$xmSo.wGZet6OrVZPI9Oog/';

describe('users file: hand edits during a rewrite', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-hand-edits-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** As an editor saves: a new file renamed over the old. */
  async function saveAsEditor(file: string, edit: (text: string) => string): Promise<void> {
    await writeFile(`${file}.edit`, edit(await readFile(file, 'utf8')));
    await rename(`${file}.edit`, file);
  }

  const disable = (text: string): string =>
    text.replace('- name: victim\n', '- name: victim\n    disabled: true\n');

  it("an edit saved between the rewrite's read and its rename is kept, and the rewrite applied to it", async () => {
    const file = path.join(dir, 'kept.yaml');
    await writeUsersFile(file, [{ username: 'victim', passwordHash: OLD, home: dir }]);
    let calls = 0;
    const done = await new UsersFileDirectory(file).update('victim', async (a) => {
      // The file has been read: the admin disables the user by hand now.
      if (++calls === 1) await saveAsEditor(file, disable);
      a.passwordHash = NEW;
    });
    assert.deepEqual(done, { result: undefined });
    const victim = (await readUsersFile(file)).get('victim');
    assert.equal(victim?.disabled, true, 'the hand edit is kept');
    assert.equal(victim?.passwordHash, NEW, 'the change is applied to the edited file');
    assert.equal(calls, 2);
  });

  it('a file changed under every try is left as it is, with an error', async () => {
    const file = path.join(dir, 'busy.yaml');
    await writeUsersFile(file, [{ username: 'victim', passwordHash: OLD, home: dir }]);
    let edits = 0;
    await assert.rejects(
      new UsersFileDirectory(file).update('victim', async (a) => {
        await saveAsEditor(file, (t) => t + `# edit ${++edits}\n`);
        a.passwordHash = NEW;
      }),
      (err: unknown) =>
        err instanceof FerryError && /changed while being rewritten 5 times/.test(err.message),
    );
    assert.match(await readFile(file, 'utf8'), /# edit 5\n$/);
    assert.equal((await readUsersFile(file)).get('victim')?.passwordHash, OLD);
  });
});
