import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../auth/password.js';
import { principalOf } from '../auth/authenticator.js';
import { loadConfig } from './config.js';

async function withConfig(yaml: string, use: (file: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-anon-'));
  try {
    const file = path.join(dir, 'ferry.yaml');
    await writeFile(file, yaml);
    await use(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('no anonymous: block, no anonymous account', async () => {
  await withConfig('users: []\n', async (file) => {
    assert.equal((await loadConfig(file)).anonymous, undefined);
  });
});

test("anonymous: takes an account's settings; relative paths resolve against the file", async () => {
  const yaml = [
    'anonymous:',
    '  home: pub',
    '  readOnly: true',
    '  permissions:',
    '    /incoming: upload,mkdir',
    '  folders:',
    '    /mirror: ../mirror',
    '  downloadRate: 1MB/s',
    '  maxSessions: 20',
    '  quotaSize: 1G',
    '  hideDotFiles: true',
    '',
  ].join('\n');
  await withConfig(yaml, async (file, dir) => {
    const a = (await loadConfig(file)).anonymous;
    assert.deepEqual(a, {
      username: 'anonymous',
      passwordHash: '',
      anonymous: true,
      home: path.join(dir, 'pub'),
      readOnly: true,
      permissions: { '/incoming': ['upload', 'mkdir'] },
      folders: { '/mirror': path.resolve(dir, '../mirror') },
      downloadRate: 1024 * 1024,
      maxSessions: 20,
      quotaSize: 1024 ** 3,
      hideDotFiles: true,
    });
  });
});

test('anonymous: is read-only unless it says readOnly: false (permissions then decide)', async () => {
  await withConfig('anonymous:\n  home: /srv/pub\n', async (file) => {
    assert.equal((await loadConfig(file)).anonymous?.readOnly, true);
  });
  await withConfig('anonymous:\n  home: /srv/pub\n  readOnly: false\n', async (file) => {
    assert.equal((await loadConfig(file)).anonymous?.readOnly, false);
  });
});

test('anonymous: refuses a password, a name, certificates and a missing home, naming the key', async () => {
  const cases = [
    ['anonymous:\n  home: /srv\n  passwordHash: "x"\n', /anonymous\.passwordHash: Unrecognized key/],
    ['anonymous:\n  home: /srv\n  name: guest\n', /anonymous\.name: Unrecognized key/],
    ['anonymous:\n  home: /srv\n  certLogin: cert-only\n', /anonymous\.certLogin: Unrecognized key/],
    ['anonymous:\n  readOnly: true\n', /anonymous\.home: /],
    ['anonymous:\n  home: /srv\n  uploadRate: fast\n', /anonymous\.uploadRate: /],
  ] as const;
  for (const [yaml, message] of cases) {
    await withConfig(yaml, async (file) => {
      await assert.rejects(loadConfig(file), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

test('a user named anonymous or ftp (any case) beside the anonymous: block is refused, saying why', async () => {
  const hash = await hashPassword('pw');
  for (const name of ['anonymous', 'FTP', 'Anonymous']) {
    const user = (n: string): string => `  - name: ${n}\n    passwordHash: "${hash}"\n    home: /srv\n`;
    const yaml = `anonymous:\n  home: /srv\nusers:\n${user('alice')}${user(name)}`;
    await withConfig(yaml, async (file) => {
      await assert.rejects(loadConfig(file), {
        code: 'ERR_INVALID_OPTION',
        message: `${file}: users.1.name: "${name}" is a login name of anonymous FTP (anonymous and ftp, in any case), which is enabled (the anonymous: block); rename the user, or remove the anonymous: block.`,
      });
    });
  }
});

test('without the anonymous: block, users named ftp and anonymous are ordinary users', async () => {
  const hash = await hashPassword('pw');
  const yaml = `users:\n  - name: ftp\n    passwordHash: "${hash}"\n    home: /srv\n`;
  await withConfig(yaml, async (file) => {
    const c = await loadConfig(file);
    assert.equal(c.users?.[0]?.username, 'ftp');
    assert.equal(c.users?.[0]?.anonymous, undefined);
  });
});

test('anonymous: hash: false switches HASH off for anonymous logins; hashMaxSize takes a size', async () => {
  await withConfig(
    'anonymous:\n  home: /srv/pub\n  hash: false\nhashMaxSize: 2G\nmaxHashesPerUser: 1\n',
    async (file) => {
      const config = await loadConfig(file);
      assert.equal(config.anonymous?.hash, false);
      assert.equal(principalOf(config.anonymous ?? assert.fail()).hash, false);
      assert.equal(config.hashMaxSize, 2 * 1024 ** 3);
      assert.equal(config.maxHashesPerUser, 1);
    },
  );
});
