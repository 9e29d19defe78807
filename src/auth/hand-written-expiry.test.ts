import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseExpiry } from './account-fields.js';
import { unusableBecause } from './authenticator.js';
import { hashPassword } from './password.js';
import { readUsersFile } from './users-file.js';

test('expires: 2027-01-31 in users.yaml means what --expires 2027-01-31 does: usable through that day, UTC', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-expiry-'));
  try {
    const file = path.join(dir, 'users.yaml');
    const hash = await hashPassword('pw');
    const entry = (name: string, expires: string): string =>
      `  - name: ${name}\n    passwordHash: "${hash}"\n    home: /srv/${name}\n    expires: ${expires}\n`;
    await writeFile(
      file,
      `users:\n${entry('plain', '2027-01-31')}${entry('quoted', '"2027-01-31"')}${entry('timed', '2027-01-31T18:00:00Z')}`,
    );
    const users = await readUsersFile(file);
    const lastMinute = Date.parse('2027-01-31T23:59:00Z');
    const nextDay = Date.parse('2027-02-01T00:00:00Z');
    for (const name of ['plain', 'quoted']) {
      const a = users.get(name);
      assert.ok(a);
      assert.equal(a.expires, parseExpiry('2027-01-31').toISOString(), name);
      assert.equal(unusableBecause(a, lastMinute), undefined, `${name}: still usable on the 31st`);
      assert.match(unusableBecause(a, nextDay) ?? '', /^account expired/, `${name}: not on February 1st`);
    }
    // A time is taken as written.
    assert.equal(users.get('timed')?.expires, '2027-01-31T18:00:00.000Z');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
