import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultMode, formatMode, formatOctalMode, parseChmodMode, parsePermissionChars } from './mode.js';

test('formatMode', () => {
  assert.equal(formatMode('dir', 0o755), 'drwxr-xr-x');
  assert.equal(formatMode('file', 0o644), '-rw-r--r--');
  assert.equal(formatMode('link', 0o777), 'lrwxrwxrwx');
  assert.equal(formatMode('file', 0o100600), '-rw-------'); // st_mode type bits ignored
  assert.equal(formatMode('file', 0o4755), '-rwsr-xr-x');
  assert.equal(formatMode('file', 0o4644), '-rwSr--r--');
  assert.equal(formatMode('dir', 0o2770), 'drwxrws---');
  assert.equal(formatMode('dir', 0o1777), 'drwxrwxrwt');
  assert.equal(formatMode('dir', 0o1776), 'drwxrwxrwT');
  assert.equal(formatMode('file', 0), '----------');
});

test('parsePermissionChars inverts formatMode', () => {
  for (const mode of [0, 0o644, 0o755, 0o4755, 0o4644, 0o2770, 0o1777, 0o1776, 0o7777]) {
    assert.equal(parsePermissionChars(formatMode('file', mode).slice(1)), mode, mode.toString(8));
  }
  assert.equal(parsePermissionChars('rw-r-lr--'), 0o2644);
  assert.equal(parsePermissionChars('rwxr-xr-'), undefined);
  assert.equal(parsePermissionChars('rwxr-xr-q'), undefined);
});

test('parseChmodMode: octal only', () => {
  assert.equal(parseChmodMode('755'), 0o755);
  assert.equal(parseChmodMode('0644'), 0o644);
  assert.equal(parseChmodMode('4755'), 0o4755);
  assert.equal(parseChmodMode('7'), 0o7);
  assert.equal(parseChmodMode('08'), undefined);
  assert.equal(parseChmodMode('17777'), undefined);
  assert.equal(parseChmodMode('u+x'), undefined);
  assert.equal(parseChmodMode(''), undefined);
  assert.equal(parseChmodMode(' 755'), undefined);
});

test('defaults and octal text', () => {
  assert.equal(defaultMode('dir'), 0o755);
  assert.equal(defaultMode('file'), 0o644);
  assert.equal(defaultMode('link'), 0o777);
  assert.equal(formatOctalMode(0o100644), '0644');
  assert.equal(formatOctalMode(0o4755), '4755');
});
