import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { DUMMY_HASH, hashPassword, isPasswordHash, verifyPassword } from './password.js';

describe('password hashing', () => {
  it('produces scrypt$N$r$p$salt$hash with a fresh salt', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(a, b);
    assert.ok(isPasswordHash(a));
  });

  it('makes a hash of a lower cost when asked (test suites), verified at that cost', async () => {
    const h = await hashPassword('correct horse', { N: 16, r: 1, p: 1 });
    assert.match(h, /^scrypt\$16\$1\$1\$/);
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsE', h), false);
    for (const cost of [
      { N: 1000, r: 1, p: 1 },
      { N: 1, r: 1, p: 1 },
      { N: 16, r: 0, p: 1 },
      { N: 16, r: 1, p: 17 },
      { N: 1 << 21, r: 1, p: 1 },
    ])
      await assert.rejects(hashPassword('x', cost), RangeError, JSON.stringify(cost));
  });

  it('verifies the right password and rejects wrong ones', async () => {
    const h = await hashPassword('correct horse');
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horse ', h), false);
    assert.equal(await verifyPassword('', h), false);
    assert.equal(await verifyPassword('correct horse', DUMMY_HASH), false);
  });

  it('handles non-ASCII passwords (NFC and NFD alike)', async () => {
    const h = await hashPassword('caf\u00e9');
    assert.equal(await verifyPassword('cafe\u0301', h), true);
  });

  it('rejects unknown or dangerous formats', async () => {
    const bad = [
      'plain',
      '$2b$10$abcdefghijklmnopqrstuv',
      'scrypt$16384$8$1$c2FsdA==',
      'scrypt$16383$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==', // N not a power of two
      'scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==', // N too large
      'scrypt$16384$8$1$not base64!$aGFzaGhhc2hoYXNoaGFzaA==',
    ];
    for (const encoded of bad) {
      assert.equal(isPasswordHash(encoded), false, encoded);
      await assert.rejects(verifyPassword('x', encoded), FerryError);
    }
  });
});
