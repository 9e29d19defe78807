import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config.js';

test('a timeout in seconds longer than a Node.js timer can wait is refused, naming the key', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
  try {
    const file = path.join(dir, 'ferry.yaml');
    const keys = [
      ['idleTimeoutSeconds', (n: number) => `idleTimeoutSeconds: ${n}`],
      ['defender.handshakeTimeoutSeconds', (n: number) => `defender:\n  handshakeTimeoutSeconds: ${n}`],
      ['defender.loginTimeoutSeconds', (n: number) => `defender:\n  loginTimeoutSeconds: ${n}`],
      [
        'proxyProtocol.headerTimeoutSeconds',
        (n: number) => `proxyProtocol:\n  trusted: [10.0.0.0/8]\n  headerTimeoutSeconds: ${n}`,
      ],
    ] as const;
    for (const [key, yaml] of keys) {
      await writeFile(file, yaml(2_147_484));
      await assert.rejects(loadConfig(file), {
        code: 'ERR_INVALID_OPTION',
        message: `${file}: ${key}: at most 2147483 (about 24.8 days, the longest a Node.js timer waits)`,
      });
      await writeFile(file, yaml(2_147_483));
      await loadConfig(file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a config that is not valid YAML is refused naming the line and column, never quoting the text', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
  try {
    const file = path.join(dir, 'ferry.yaml');
    const secret = 't3-secret-token-abcdefgh';
    const cases = [
      // A stray line under the token (the tester's edit), an escape inside it, an unknown alias.
      [
        `admin:\n  listen: 127.0.0.1:0\n  token: "${secret}"\n   bad: [unclosed\n`,
        'line 4, column 1: bad indentation',
      ],
      [`admin:\n  token: "${secret}\\q"\n`, 'line 2, column 35: invalid escape sequence'],
      [`admin:\n  token: *${secret}\n`, 'an alias (*name) has no anchor'],
    ] as const;
    for (const [yaml, expected] of cases) {
      await writeFile(file, yaml);
      const err = await loadConfig(file).then(
        () => assert.fail(`loaded ${yaml}`),
        (e: unknown) => e as Error,
      );
      assert.match(err.message, new RegExp(`^${file}: not valid YAML`));
      assert.ok(err.message.includes(expected), err.message);
      assert.ok(!err.message.includes('secret') && !err.message.includes('\n'), err.message);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('umask is octal however YAML writes it: "027", 027, 27 and 0o027 all mean 027; others are refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
  try {
    const file = path.join(dir, 'ferry.yaml');
    for (const [written, mask] of [
      ['"027"', 0o027],
      ['027', 0o027],
      ['27', 0o027],
      ['0o027', 0o027],
      ['0o77', 0o077],
      ['0o22', 0o022],
    ] as const) {
      await writeFile(file, `umask: ${written}\n`);
      assert.equal((await loadConfig(file)).umask, mask, written);
    }
    for (const written of ['0x1f', '99', '"8"', '1000']) {
      await writeFile(file, `umask: ${written}\n`);
      await assert.rejects(loadConfig(file), /umask: expected an octal mask like "022"/, written);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
