import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Account } from './account.js';
import { certificateMismatch, certLoginOf, passwordless } from './cert-login.js';
import type { ClientCertificate } from './types.js';

const FP = 'AB:'.repeat(31) + 'CD';
const base: Account = { username: 'carol', passwordHash: 'x', home: '/h' };
const cert = (over: Partial<ClientCertificate> = {}): ClientCertificate => ({
  fingerprint: FP,
  commonName: 'carol',
  invalidNow: undefined,
  untrusted: undefined,
  ...over,
});

test('certLoginOf: a pin alone means cert-and-password; nothing set means no certificate use', () => {
  assert.equal(certLoginOf(base), undefined);
  assert.equal(certLoginOf({ ...base, clientCerts: [] }), undefined);
  assert.equal(certLoginOf({ ...base, clientCerts: [FP] }), 'cert-and-password');
  assert.equal(certLoginOf({ ...base, clientCerts: [FP], certLogin: 'cert-only' }), 'cert-only');
  assert.equal(passwordless({ ...base, clientCerts: [FP] }), false);
  assert.equal(passwordless({ ...base, certLogin: 'cert-or-password' }), true);
});

test('pinned: fingerprint compared without colons and case; dates checked; the CA plays no part', () => {
  const a: Account = { ...base, clientCerts: [FP.replace(/:/g, '').toLowerCase()] };
  assert.equal(certificateMismatch(a, cert({ untrusted: 'no client CA is configured' })), undefined);
  assert.match(String(certificateMismatch(a, cert({ fingerprint: 'EF:' + FP.slice(3) }))), /not pinned/);
  assert.match(String(certificateMismatch(a, cert({ invalidNow: 'expired x' }))), /expired x/);
  assert.match(String(certificateMismatch(a, undefined)), /no client certificate/);
});

test('CA-issued: trusted and CN = user name, only without pins', () => {
  const a: Account = { ...base, certLogin: 'cert-only' };
  assert.equal(certificateMismatch(a, cert()), undefined);
  assert.match(String(certificateMismatch(a, cert({ commonName: 'Carol' }))), /CN "Carol"/);
  assert.match(String(certificateMismatch(a, cert({ commonName: undefined }))), /CN ""/);
  assert.match(String(certificateMismatch(a, cert({ untrusted: 'expired y' }))), /expired y/);
  const pinned: Account = { ...a, clientCerts: ['EF:' + FP.slice(3)] };
  assert.match(String(certificateMismatch(pinned, cert())), /not pinned/);
});
