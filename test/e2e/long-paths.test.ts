/**
 * A name or a path the host's file system cannot take is said to be one: `550 File name not
 * allowed: name too long (more than 255 bytes).` for a 256-byte name, `…: path too long for the
 * server's file system.` inside a tree deeper than PATH_MAX under the root (listed in its parent,
 * but CWD, LIST and RETR inside it fail). Both said only `550 File name not allowed.`
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

const LEVEL = 'd'.repeat(200);
/** Levels, and a last one, whose virtual path is within 4096 characters, the host's past PATH_MAX. */
const LEVELS = 20;
const LAST = 'e'.repeat(50);

/** Makes the deep tree under `root` (or, with `remove`, removes it), one relative step at a time. */
async function deepTree(root: string, remove = false): Promise<void> {
  // Each level a relative chdir (sh's cd and Node's absolute paths stop at PATH_MAX); shutil.rmtree
  // works from descriptors.
  const script = remove
    ? ['import shutil, sys', `shutil.rmtree(sys.argv[1] + '/${LEVEL}')`].join('\n')
    : [
        'import os, sys',
        'os.chdir(sys.argv[1])',
        `for _ in range(${LEVELS}):`,
        `    os.mkdir('${LEVEL}'); os.chdir('${LEVEL}')`,
        `os.mkdir('${LAST}'); os.chdir('${LAST}')`,
        "open('f.txt', 'w').write('x')",
      ].join('\n');
  await promisify(execFile)('python3', ['-c', script, root]);
}

for (const mode of MODES) {
  describe(`names and paths too long (${mode})`, { timeout: 60_000 }, () => {
    const server = useFerry();
    test('a 256-byte name: name too long', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const reply = await ftp.cmd(`CWD ${'n'.repeat(256)}`, 550);
        assert.match(textOf(reply), /name too long \(more than 255 bytes\)/);
      });
    });

    test('inside a tree past PATH_MAX: path too long', async () => {
      await deepTree(server().root);
      try {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          const deep = [...Array.from({ length: LEVELS }, () => LEVEL), LAST].join('/');
          assert.ok(deep.length < 4096 && server().root.length + deep.length > 4096);
          const reply = await ftp.cmd(`CWD ${deep}`, 550);
          assert.match(textOf(reply), /path too long for the server's file system/);
          assert.match(textOf(await ftp.cmd(`SIZE ${deep}/f.txt`, 550)), /path too long/);
        });
      } finally {
        await deepTree(server().root, true);
      }
    });
  });
}
