import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCRYPT_COST } from '../auth/password.js';
import { hashCostOf } from './hash-cost.js';

test('hashCostOf: the production cost unless FERRY_TEST_SCRYPT_COST names another', () => {
  assert.equal(hashCostOf({}), DEFAULT_SCRYPT_COST);
  assert.deepEqual(DEFAULT_SCRYPT_COST, { N: 16384, r: 8, p: 1 });
  assert.equal(hashCostOf({ FERRY_TEST_SCRYPT_COST: '' }), DEFAULT_SCRYPT_COST);
  assert.deepEqual(hashCostOf({ FERRY_TEST_SCRYPT_COST: '16,1,1' }), { N: 16, r: 1, p: 1 });
  for (const bad of ['16', '16,1', '15,1,1', '16,0,1', '16,1,1,1', ' 16,1,1', 'cheap'])
    assert.throws(
      () => hashCostOf({ FERRY_TEST_SCRYPT_COST: bad }),
      /^FerryError: FERRY_TEST_SCRYPT_COST: /,
      bad,
    );
});
