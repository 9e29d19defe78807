import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTlsVersion } from './tls-version.js';

test('TLS versions are accepted as 1.x and as TLSv1.x, and nothing else', () => {
  for (const [text, version] of [
    ['1.0', 'TLSv1'],
    ['1', 'TLSv1'],
    ['TLSv1', 'TLSv1'],
    ['TLSv1.0', 'TLSv1'],
    ['1.1', 'TLSv1.1'],
    ['TLSv1.1', 'TLSv1.1'],
    ['1.2', 'TLSv1.2'],
    ['tlsv1.2', 'TLSv1.2'],
    ['1.3', 'TLSv1.3'],
    ['TLSv1.3', 'TLSv1.3'],
  ]) {
    assert.equal(parseTlsVersion(text ?? ''), version, text);
  }
  for (const bad of ['', '1.4', 'SSLv3', '2', 'TLSv', 'constructor', '12'])
    assert.equal(parseTlsVersion(bad), undefined, bad);
});
