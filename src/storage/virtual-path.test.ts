import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageError } from '../errors.js';
import type { VPath } from './types.js';
import {
  ROOT,
  baseName,
  childPathsOf,
  isAllowedName,
  isDescendant,
  isVPath,
  joinVPath,
  parentOf,
  resolveVPath,
  segmentsOf,
} from './virtual-path.js';

const cwd = '/home/user' as VPath;

function notAllowed(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof StorageError && e.kind === 'name-not-allowed');
}

describe('resolveVPath', () => {
  it('resolves relative and absolute input', () => {
    assert.equal(resolveVPath(cwd, 'docs/a.txt'), '/home/user/docs/a.txt');
    assert.equal(resolveVPath(cwd, '/etc/passwd'), '/etc/passwd');
    assert.equal(resolveVPath(cwd, ''), '/home/user');
    assert.equal(resolveVPath(cwd, '.'), '/home/user');
    assert.equal(resolveVPath(ROOT, 'a'), '/a');
  });

  it('handles . and .. lexically and never above /', () => {
    assert.equal(resolveVPath(cwd, '..'), '/home');
    assert.equal(resolveVPath(cwd, '../../..'), '/');
    assert.equal(resolveVPath(cwd, '/../..'), '/');
    assert.equal(resolveVPath(cwd, '/../../etc/passwd'), '/etc/passwd');
    assert.equal(resolveVPath(cwd, './a/./b/../c'), '/home/user/a/c');
    assert.equal(resolveVPath(ROOT, '...'), '/...'); // an ordinary name
  });

  it('collapses repeated and trailing slashes', () => {
    assert.equal(resolveVPath(cwd, '//a///b//'), '/a/b');
    assert.equal(resolveVPath(cwd, 'a//b/'), '/home/user/a/b');
    assert.equal(resolveVPath(cwd, '///'), '/');
  });

  it('keeps spaces, quotes and leading dashes verbatim', () => {
    assert.equal(resolveVPath(ROOT, ' my file "x" -la'), '/ my file "x" -la');
  });

  it('rejects NUL, backslashes and line breaks', () => {
    notAllowed(() => resolveVPath(cwd, 'a\0b'));
    notAllowed(() => resolveVPath(cwd, '..\\..\\windows'));
    notAllowed(() => resolveVPath(cwd, 'C:\\x'));
    notAllowed(() => resolveVPath(cwd, 'a\r\nb'));
    notAllowed(() => resolveVPath(cwd, 'a\nb'));
  });

  it('rejects control characters: C0 (TAB too), DEL and C1, which terminals act on', () => {
    for (const c of ['\x01', '\t', '\x1b', '\x1f', '\x7f', '\x80', '\x9b', '\x9f']) {
      notAllowed(() => resolveVPath(cwd, `x${c}y`));
      notAllowed(() => joinVPath(ROOT, `x${c}y`));
      assert.equal(isAllowedName(`x${c}y`), false, JSON.stringify(c));
    }
    notAllowed(() => resolveVPath(cwd, 'x\x01\x1b[31my\x7f')); // the reported MKD argument
    // Printable neighbours stay allowed: space, tilde, NBSP (U+00A0) and other non-ASCII letters.
    assert.equal(resolveVPath(ROOT, ' ~\xa0é€'), '/ ~\xa0é€');
    assert.equal(isAllowedName(' ~\xa0é€'), true);
  });

  it('rejects overlong names and paths', () => {
    assert.equal(resolveVPath(ROOT, 'x'.repeat(255)).length, 256);
    notAllowed(() => resolveVPath(ROOT, 'x'.repeat(256)));
    notAllowed(() => resolveVPath(ROOT, 'é'.repeat(128))); // 256 bytes in UTF-8
    notAllowed(() => resolveVPath(ROOT, 'a/'.repeat(2100)));
  });
});

describe('VPath helpers', () => {
  it('splits and joins', () => {
    const p = resolveVPath(ROOT, '/a/b/c');
    assert.equal(parentOf(p), '/a/b');
    assert.equal(parentOf(resolveVPath(ROOT, '/a')), '/');
    assert.equal(parentOf(ROOT), '/');
    assert.equal(baseName(p), 'c');
    assert.equal(baseName(ROOT), '');
    assert.deepEqual(segmentsOf(p), ['a', 'b', 'c']);
    assert.deepEqual(segmentsOf(ROOT), []);
    assert.equal(joinVPath(ROOT, 'x'), '/x');
    assert.equal(joinVPath(p, 'x'), '/a/b/c/x');
  });

  it('joins only single plain segments', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\0', 'x'.repeat(256)]) {
      notAllowed(() => joinVPath(ROOT, bad));
    }
  });

  it("joins a listing's names as joinVPath does; none for a path that grows too long (left out)", () => {
    const p = resolveVPath(ROOT, '/a/b');
    assert.equal(childPathsOf(ROOT)('x'), joinVPath(ROOT, 'x'));
    assert.equal(childPathsOf(p)('x'), joinVPath(p, 'x'));
    const deep = resolveVPath(ROOT, '/' + Array.from({ length: 16 }, () => 'd'.repeat(240)).join('/'));
    assert.equal(childPathsOf(deep)('x'.repeat(239)), `${deep}/${'x'.repeat(239)}`, '4,096 characters');
    assert.equal(childPathsOf(deep)('x'.repeat(240)), undefined);
  });

  it('recognizes normalized paths and descendants', () => {
    assert.ok(isVPath('/') && isVPath('/a/b'));
    for (const bad of ['', 'a', '/a/', '//a', '/a/../b', '/./a', '/a\\b']) assert.ok(!isVPath(bad), bad);
    const a = resolveVPath(ROOT, '/a');
    assert.ok(isDescendant(resolveVPath(ROOT, '/a/b'), a));
    assert.ok(!isDescendant(resolveVPath(ROOT, '/ab'), a));
    assert.ok(!isDescendant(a, a));
    assert.ok(isDescendant(a, ROOT));
  });
});
