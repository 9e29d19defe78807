import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { Secret } from './types.js';

describe('Secret', () => {
  it('never prints its value', () => {
    const s = new Secret('hunter2');
    assert.equal(String(s), '****');
    assert.equal(`${s}`, '****');
    assert.equal('' + s, '****');
    assert.equal(JSON.stringify({ password: s }), '{"password":"****"}');
    assert.equal(inspect(s), '****');
    assert.equal(inspect({ nested: { s } }, { depth: 5 }), '{ nested: { s: **** } }');
    assert.equal(format('%s %o %j', s, s, s), '**** **** "****"');
    assert.deepEqual(Object.keys(s), []);
    assert.ok(!inspect(s, { showHidden: true }).includes('hunter2'));
  });

  it('reveals on request', () => {
    assert.equal(new Secret('hunter2').reveal(), 'hunter2');
  });
});
