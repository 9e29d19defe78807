import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressMatcher,
  formatSize,
  parseAssignment,
  parseCidr,
  parseCount,
  parseExpiry,
  parseFingerprint,
  parsePermissionList,
  parseRate,
  parseSize,
} from './account-fields.js';

describe('account fields', () => {
  it('SIZE: bytes, or K M G T (powers of 1024), with B or iB', () => {
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('500M'), 500 * 1024 ** 2);
    assert.equal(parseSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSize('2gib'), 2 * 1024 ** 3);
    assert.equal(parseSize('10KB'), 10 * 1024);
    assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('0'), 0);
    for (const bad of ['', 'M', '-1', '5Q', '1 2', '10MB/s', '1e3'])
      assert.throws(() => parseSize(bad), RangeError, bad);
  });

  it('RATE: a size per second, "/s" optional', () => {
    assert.equal(parseRate('10MB/s'), 10 * 1024 ** 2);
    assert.equal(parseRate('512K/s'), 512 * 1024);
    assert.equal(parseRate('1M'), 1024 ** 2);
    assert.equal(parseRate('1048576'), 1048576);
    for (const bad of ['fast', '10MB/h', '/s'])
      assert.throws(() => parseRate(bad), /rate such as 10MB\/s/, bad);
  });

  it('PERMS: *, readonly, none, or names (unknown names refused)', () => {
    assert.equal(parsePermissionList('*'), '*');
    assert.deepEqual(parsePermissionList('list,download'), ['list', 'download']);
    assert.deepEqual(parsePermissionList(' List , UPLOAD,list'), ['list', 'upload']);
    assert.deepEqual(parsePermissionList('readonly'), ['list', 'download']);
    assert.deepEqual(parsePermissionList('none'), []);
    assert.equal(parsePermissionList('list,*'), '*');
    assert.throws(() => parsePermissionList('list,write'), /unknown permission "write"/);
  });

  it('VPATH=VALUE: absolute virtual paths, normalized, no dot segments', () => {
    assert.deepEqual(parseAssignment('/pub=list'), { path: '/pub', value: 'list' });
    assert.deepEqual(parseAssignment('//a//b/=*'), { path: '/a/b', value: '*' });
    assert.deepEqual(parseAssignment('/=*'), { path: '/', value: '*' });
    for (const bad of ['pub=list', '=list', '/a/../b=list', 'list', '/a\\b=x']) {
      assert.throws(() => parseAssignment(bad), RangeError, bad);
    }
  });

  it('CIDR: IPv4 and IPv6 networks or single addresses; matching includes IPv4-mapped IPv6', () => {
    assert.equal(parseCidr('10.0.0.0/8'), '10.0.0.0/8');
    assert.equal(parseCidr('192.168.1.7'), '192.168.1.7/32');
    assert.equal(parseCidr('2001:DB8::/32'), '2001:db8::/32');
    assert.equal(parseCidr('::1'), '::1/128');
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0/8',
      'host/8',
      '10.0.0.0/8/1',
      '::/129',
      '10.0.0.0/x',
      'fe80::1%eth0',
    ]) {
      assert.throws(() => parseCidr(bad), RangeError, bad);
    }
    const m = addressMatcher(['10.0.0.0/8', '2001:db8::/32']);
    assert.ok(m('10.1.2.3') && m('::ffff:10.1.2.3') && m('2001:db8::5'));
    assert.ok(!m('11.0.0.1') && !m('127.0.0.1') && !m('2001:db9::1') && !m('not an ip'));
  });

  it('DATE: a day means through that day (UTC); a time is exact', () => {
    assert.equal(parseExpiry('2027-01-31').toISOString(), '2027-02-01T00:00:00.000Z');
    assert.equal(parseExpiry('2027-01-31T18:00:00Z').toISOString(), '2027-01-31T18:00:00.000Z');
    assert.equal(parseExpiry('2027-01-31T18:00+02:00').toISOString(), '2027-01-31T16:00:00.000Z');
    for (const bad of ['2027-02-30', 'tomorrow', '31.01.2027', '2027-01-31T18:00']) {
      assert.throws(() => parseExpiry(bad), RangeError, bad);
    }
  });

  it('counts and fingerprints', () => {
    assert.equal(parseCount('12'), 12);
    assert.throws(() => parseCount('1.5'), RangeError);
    assert.throws(() => parseCount('-1'), RangeError);
    const hex = 'ab'.repeat(32);
    const colons = `${'AB:'.repeat(31)}AB`;
    assert.equal(parseFingerprint(hex), colons);
    assert.equal(parseFingerprint(colons.toLowerCase()), colons);
    assert.throws(() => parseFingerprint('abcd'), RangeError);
  });

  it('formats sizes for people', () => {
    assert.equal(formatSize(2 * 1024 ** 3), '2 GiB');
    assert.equal(formatSize(1536), '1.5 KiB');
    assert.equal(formatSize(12), '12 B');
  });
});
