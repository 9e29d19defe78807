/**
 * Migrating from vsftpd or ProFTPD: `ferry users import` takes an htpasswd or shadow-style file,
 * `ferry users add/set --password-hash` a precomputed hash; the users log in with their old
 * passwords, and their hashes become scrypt at that first login.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferryUsers, runFerry, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

const PW = 'pässwörd 123!';
/** Made by `openssl passwd -apr1/-6/-5`, `mkpasswd -m bcrypt` (as $2y$, htpasswd -B's name), yescrypt. */
const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1';
const SHA512 =
  '$6$s4ltS4ltS4ltS4lt$3Ci8YW94OSexAQElOj6LXjd0eEMzBQkvHZZg8OUY/.FqwolsOkDmoNltPBR8PSFbDeoUPStEO5uWXUSHZ5H0K.';
const SHA256 = '$5$s4ltS4ltS4ltS4lt$8RSWUhAuvxuyzICbt9AIpIvwu86wfPDEVFzulr/hw/4';
const BCRYPT = '$2y$06$KrnsT96ujvB4fJhAQ3iRjuGBkYLctzOpou8z5rUS7d4hsWDG78ZZC';
const YESCRYPT = '$y$j9T$7YFRGTMW12fSFGD9eBUW0/$4FN1YnfFHrnCjkl87aSknZv6pnLfVIOpdBRavjICZiC';

let dir: string;
let data: string;
let homes: string;
const users = (args: string[], input?: string): ReturnType<typeof ferryUsers> =>
  ferryUsers(data, args, input);

async function usersFile(): Promise<string> {
  return readFile(path.join(data, 'users.yaml'), 'utf8');
}

describe('migrating users with their password hashes', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-import-'));
    data = path.join(dir, 'data');
    homes = path.join(dir, 'homes');
    await mkdir(homes);
    for (const name of ['ann', 'bob', 'fred', 'gail']) await mkdir(path.join(homes, name));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('import: usable lines in one write, the others reported without their hashes', async () => {
    const file = path.join(dir, 'passwords');
    await writeFile(
      file,
      [
        '# htpasswd lines',
        `ann:${APR1}`,
        `bob:${BCRYPT}`,
        'carl',
        // /etc/shadow lines
        `dave:!${SHA512}:19000:0:99999:7:::`,
        `eve:${YESCRYPT}:19000:0:99999:7:::`,
        `fred:${SHA512}:19000:0:99999:7:::`,
        '',
      ].join('\n'),
    );
    const r = await users(['import', file, '--home-base', homes]);
    // Users left out: exit 1 (a script's `set -e` stops), after the usable ones were imported.
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^ferry: 3 of the file's users not imported \(see above\)$/m);
    assert.match(r.stdout, /^imported 3 of 6 users into /);
    assert.match(r.stderr, /:4: carl skipped: not name:hash/);
    assert.match(r.stderr, /:5: dave skipped: .*locked/);
    assert.match(r.stderr, /:6: eve skipped: yescrypt .*ferry users passwd/);
    assert.ok(![YESCRYPT, SHA512].some((h) => r.stderr.includes(h.slice(7, 30))), r.stderr);
    const text = await usersFile();
    for (const [name, hash] of [
      ['ann', APR1],
      ['bob', BCRYPT],
      ['fred', SHA512],
    ] as const) {
      assert.ok(text.includes(`name: ${name}`) && text.includes(hash), name);
      assert.ok(text.includes(path.join(homes, name)), name);
    }
    assert.ok(!text.includes('name: eve'));

    const again = await users(['import', file, '--home-base', homes]);
    assert.equal(again.code, 1, 'carl, dave and eve are still not imported');
    assert.match(again.stdout, /^imported 0 of 6/);
    assert.match(again.stderr, /ann skipped: already a user/);
    // A file whose every user is imported, or already there: exit 0, run after run.
    const good = path.join(dir, 'good');
    await writeFile(good, `gus:${APR1}\n`);
    await mkdir(path.join(homes, 'gus'));
    for (let i = 0; i < 2; i++) {
      const ok = await users(['import', good, '--home-base', homes]);
      assert.equal(ok.code, 0, ok.stderr);
    }
    assert.equal((await users(['rm', 'gus'])).code, 0); // the tests after count the file's hashes
  });

  test('import skips, each with its file:line and reason, what add refuses: config users, anonymous names, missing homes', async () => {
    const base = path.join(dir, 'conflicts');
    await mkdir(base);
    const config = path.join(base, 'ferry.yaml');
    await writeFile(
      config,
      [
        `dataDir: ${path.join(base, 'data')}`,
        `users: [{ name: cfg, passwordHash: "${SHA256}", home: ${homes} }]`,
        `anonymous: { home: ${homes} }`,
      ].join('\n') + '\n',
    );
    const file = path.join(base, 'passwords');
    await writeFile(
      file,
      [`cfg:${APR1}`, `FTP:${APR1}`, `Anonymous:${APR1}`, `nohome:${APR1}`, `fred:${APR1}`, ''].join('\n'),
    );
    const run = (): ReturnType<typeof runFerry> =>
      runFerry(['users', 'import', file, '--home-base', homes, '--config', config]);
    const r = await run();
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      [
        `${file}:1: cfg skipped: also defined in ${config}'s users: list, which the server uses instead (edit that entry)`,
        `${file}:2: FTP skipped: "FTP" is a login name of anonymous FTP (anonymous and ftp, in any case), which is enabled`,
        `${file}:3: Anonymous skipped: "Anonymous" is a login name of anonymous FTP (anonymous and ftp, in any case), which is enabled`,
        `${file}:4: nohome skipped: home ${path.join(homes, 'nohome')} is not a directory (create it first)`,
        "ferry: 4 of the file's users not imported (see above)",
        '',
      ].join('\n'),
    );
    assert.match(r.stdout, /^imported 1 of 5 users into /);
    const text = await readFile(path.join(base, 'data', 'users.yaml'), 'utf8');
    assert.deepEqual(text.match(/name: \S+/g), ['name: fred']);
    // A name already present is reported with its line too.
    const again = await run();
    assert.match(again.stderr, new RegExp(`^${file}:5: fred skipped: already a user in `, 'm'));
  });

  test('import: a DES hash is named and refused as too weak, a cut MD5-crypt one as malformed; all in line order', async () => {
    const base = path.join(dir, 'old-hashes');
    await mkdir(base);
    const file = path.join(base, 'passwords');
    // ann is a user already (the first test): reported at its line, before the lines after it.
    const lines = ['hal:abJnggxhB/yWI', `ann:${APR1}`, 'ivy:$1$abc'];
    await writeFile(file, lines.join('\n') + '\n');
    const r = await users(['import', file, '--home-base', homes]);
    assert.equal(r.code, 1, r.stderr);
    const reported = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    assert.deepEqual(
      reported.map((l) => l.slice(file.length + 1).replace(/ in \S+$/, '')),
      [
        "1: hal skipped: a DES crypt hash: recognised, but refused as too weak (a 56-bit key, passwords cut at 8 characters): set a new password ('ferry users passwd', or 'ferry hash-password' for the config's users)",
        '2: ann skipped: already a user',
        '3: ivy skipped: a malformed MD5-crypt hash (cut short, or its salt or hash of the wrong length)',
      ],
    );
    assert.ok(!r.stderr.includes('JnggxhB'), 'no hash quoted');
  });

  test('add and set take a precomputed hash (from the command line or standard input)', async () => {
    const home = path.join(homes, 'gail');
    const bad = await users(['add', 'gail', '--home', home, '--password-hash', 'hunter2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--password-hash: not a password hash/);
    assert.ok(!bad.stderr.includes('hunter2'));
    const added = await users(['add', 'gail', '--home', home, '--password-hash-stdin'], `${SHA256}\n`);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added gail/);
    assert.doesNotMatch(added.stdout, /password for/);
    const set = await users(['set', 'ann', '--password-hash', SHA256]);
    assert.equal(set.code, 0, set.stderr);
    const text = await usersFile();
    assert.ok(!text.includes(APR1) && text.split(SHA256).length === 3);
  });

  test('they log in with their old passwords, and their hashes become scrypt', async () => {
    const server = await ServeProcess.start(['--data-dir', data], dir);
    try {
      for (const name of ['ann', 'bob', 'fred', 'gail']) {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
        try {
          await ftp.expect(220);
          await ftp.cmd(`USER ${name}`, 331);
          await ftp.cmd('PASS wrong', 530);
          await ftp.cmd(`USER ${name}`, 331);
          await ftp.cmd(`PASS ${PW}`, 230);
        } finally {
          await ftp.close();
        }
        await server.waitForLog(
          (l) => l.msg === 'migrated password hash replaced by a scrypt one' && l.user === name,
          `${name}'s hash replaced`,
        );
      }
      const text = await usersFile();
      assert.ok(![SHA256, BCRYPT, SHA512].some((h) => text.includes(h)), 'no crypt hash left');
      assert.equal(text.match(/passwordHash: scrypt\$/g)?.length, 4);
      assert.ok(!server.log.some((l) => JSON.stringify(l).includes('$6$')), 'no hash in the log');
    } finally {
      await server.stop();
    }
  });
});
