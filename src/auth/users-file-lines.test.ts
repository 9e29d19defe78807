import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseWrittenUsersFile } from './users-file-lines.js';

const HEADER = '# Ferry users file.\n# comments\n';

/** The file as writeUsersFile writes these entries. */
const written = (users: object[]): string => HEADER + stringify({ users });

describe('users file: the fast reading of the written form', () => {
  it('reads every field as YAML does, for the file `ferry users` writes', () => {
    const users = [
      {
        name: 'a',
        passwordHash: 'scrypt$16384$8$1$abc+/=$def+/=',
        home: '/srv/a b',
        readOnly: true,
        hideDotFiles: false,
        expires: '2030-01-01T00:00:00.000Z',
        maxSessions: 2,
        quotaSize: 1073741824,
        uploadRate: 1048576,
        certLogin: 'cert-only',
        allowFrom: ['10.0.0.0/8', '::1/128'],
        clientCerts: ['AB:CD:EF'],
        folders: { '/pub': '/srv/pub', '/ü': '/srv/ü' },
        denyFiles: ['*.exe', '.htaccess', 'a #b', 'x: y'],
        permissions: { '/': '*', '/in': 'list,upload', '/x y': 'list' },
      },
      { name: 'true', passwordHash: '$2b$10$abcdefghijklmnopqrstuu', home: '/123' },
      { name: '0o17', passwordHash: '$1$x$y' },
    ];
    const text = written(users);
    assert.deepEqual(parseWrittenUsersFile(text), parse(text));
    assert.deepEqual(parseWrittenUsersFile(text)?.users, users);
    assert.deepEqual(parseWrittenUsersFile('users: []\n'), { users: [] });
  });

  it('a value YAML might read otherwise is left to YAML, and one it reads as a string is read so', () => {
    // Every string of these characters up to 3 long, as a value, a key and a list item.
    const chars = [...'a0.-+:# "\'\\~exn*&![{/(?@,'];
    let fast = 0;
    const check = (s: string): void => {
      for (const user of [{ home: s }, { permissions: { [s]: 'list' } }, { denyFiles: [s] }]) {
        const text = written([{ name: 'a', passwordHash: 'h', ...user }]);
        const got = parseWrittenUsersFile(text);
        if (got === undefined) continue;
        fast++;
        assert.deepEqual(got, parse(text), JSON.stringify(user));
      }
    };
    for (const a of chars) {
      check(a);
      for (const b of chars) {
        check(a + b);
        for (const c of chars) check(a + b + c);
      }
    }
    for (const s of [
      'null',
      'Null',
      'NULL',
      'True',
      'FALSE',
      '.inf',
      '-.Inf',
      '.NaN',
      '1e3',
      '0x1F',
      '0o17',
      '012',
    ])
      check(s);
    assert.ok(fast > 3000, `only ${fast} read fast`);
  });

  it('gives undefined (parse as YAML) for what it is not sure of', () => {
    const entry = '  - name: a\n    passwordHash: h\n';
    for (const text of [
      '',
      'users:\n',
      'users: []\n  - name: a\n',
      `users:\n${entry}# a comment among the entries\n`,
      `users:\n${entry}    home: /a # trailing comment\n`,
      `users:\n${entry}    home: "/a\\tb"\n`,
      `users:\n${entry}    home: &h /a\n`,
      `users:\n${entry}    home: !!str 1\n`,
      `users:\n${entry}    maxSessions: 1.5\n`,
      `users:\n${entry}    maxSessions: 012\n`,
      `users:\n${entry}    disabled: True\n`,
      `users:\n${entry}    home: ~\n`,
      `users:\n${entry}    name: b\n`,
      `users:\n${entry}    permissions: { /: list }\n`,
      `users:\n${entry}    permissions:\n`,
      `users:\n${entry}    allowFrom:\n      - 10.0.0.1\n      x: y\n`,
      `users:\n${entry}    folders:\n      /a: /b\n      /a: /c\n`,
      `users:\n${entry}    home: /a long\n      continued\n`,
      `users:\r\n${entry}`,
      `users:\n${entry.replace('    ', '\t')}`,
      `users:\n  - name:\n      x: 1\n`,
      `other: 1\nusers:\n${entry}`,
    ]) {
      assert.equal(parseWrittenUsersFile(text), undefined, JSON.stringify(text));
    }
  });
});
