/**
 * `ferry users rescan NAME --config FILE` for a user of FILE's `users:` list (read-only for add,
 * set and rm): their usage is the server's own record, so it is counted and stored as for a user
 * of the users file, and `ferry users show` then shows it.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryUsers } from '../support/ferry-process.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rescan-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("rescan of a user of the config's users: list counts their home and stores it", async () => {
  const data = path.join(dir, 'data');
  const home = path.join(dir, 'alice');
  await mkdir(path.join(home, 'sub'), { recursive: true });
  await writeFile(path.join(home, 'a'), Buffer.alloc(1000));
  await writeFile(path.join(home, 'sub', 'b'), Buffer.alloc(24));
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    `users:\n  - name: alice\n    passwordHash: ${await testHash('pw')}\n    home: ${home}\n    quotaSize: 10M\n`,
  );

  const rescan = await ferryUsers(data, ['rescan', 'alice', '--config', config]);
  assert.equal(rescan.code, 0, rescan.stderr);
  assert.equal(rescan.stdout, 'alice: 1 KiB in 2 files\n');
  const show = await ferryUsers(data, ['show', 'alice', '--config', config, '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual((JSON.parse(show.stdout) as { usage?: unknown }).usage, { bytes: 1024, files: 2 });

  const unknown = await ferryUsers(data, ['rescan', 'nobody', '--config', config]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no user "nobody"/);
});
