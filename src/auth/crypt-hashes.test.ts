import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { cryptKind, verifyCrypt } from './crypt-hashes.js';
import { isLegacyHash, isPasswordHash, passwordHashProblem, verifyPassword } from './password.js';
import { parseUsersFile } from './users-file.js';

const PW = 'pässwörd 123!';
const LONG = 'long'.repeat(40);

/** Made on a Debian machine by the tools named (the long one: a password past SHA-512's block). */
const VECTORS: readonly (readonly [tool: string, password: string, hash: string])[] = [
  ['openssl passwd -1', PW, '$1$s4ltS4lt$twIlAEN3PT1WWufuYNAXp.'],
  ['openssl passwd -apr1', PW, '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'],
  ['openssl passwd -5', PW, '$5$s4ltS4ltS4ltS4lt$8RSWUhAuvxuyzICbt9AIpIvwu86wfPDEVFzulr/hw/4'],
  [
    'openssl passwd -6',
    PW,
    '$6$s4ltS4ltS4ltS4lt$3Ci8YW94OSexAQElOj6LXjd0eEMzBQkvHZZg8OUY/.FqwolsOkDmoNltPBR8PSFbDeoUPStEO5uWXUSHZ5H0K.',
  ],
  [
    'mkpasswd -m sha512crypt -R 6000',
    PW,
    '$6$rounds=6000$abcdefgh$kh9pY6sckXqFNcGjGzB6J.MdABusYA4CzKKa3H9TSXs7.cDh3Bg0AcphgPdqZe9RqzfbK3T/NfeJExiuM2tXe.',
  ],
  [
    'mkpasswd -m sha256crypt -R 2000',
    PW,
    '$5$rounds=2000$abcdefgh$VCUB4ptZMSnd1NhJ6222o.qemLOXcMC9c4VE6re6MGD',
  ],
  ['mkpasswd -m bcrypt -R 6', PW, '$2b$06$KrnsT96ujvB4fJhAQ3iRjuGBkYLctzOpou8z5rUS7d4hsWDG78ZZC'],
  ['mkpasswd -m bcrypt-a', PW, '$2a$05$RUctGqOYk1/oS37MK3xowelnBxj02D1yXMO9lSoWVOuRjJIofCp.u'],
  // PHP's and htpasswd's $2y$ is the same algorithm as $2b$ under another name.
  ['(the $2b$ above as $2y$)', PW, '$2y$06$KrnsT96ujvB4fJhAQ3iRjuGBkYLctzOpou8z5rUS7d4hsWDG78ZZC'],
  [
    'python3 crypt rounds=1000',
    PW,
    '$6$rounds=1000$pySalt$KHsd06S5J7/cl53lNOPvEkCZHiFgnyDKwC/MxqM4Zmkhg6MWp4uJBy2kaVHPSj4ERDZe6XrjfK7waY6m9Yakz0',
  ],
  [
    'openssl passwd -6 (long)',
    LONG,
    '$6$x$awiwAhTG.MfmjoZxjGPujqISqxqBzHfhqQjHiFRdn1g69TEdmwSj9fURcnUeJ.JCc9xCMglsZbXW3oWkfljvM1',
  ],
  ['openssl passwd -1 (long)', LONG, '$1$x$u.gdDAH0zqxxSfleMsGWt/'],
];

/** The tool's output, or undefined when it is not installed here. */
function run(cmd: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

describe('crypt hashes', () => {
  it('verifies the vectors made by the real tools, and refuses a wrong password', () => {
    for (const [tool, password, hash] of VECTORS) {
      assert.ok(isPasswordHash(hash) && isLegacyHash(hash), tool);
      assert.equal(verifyCrypt(password, hash), true, tool);
      assert.equal(verifyCrypt(password + 'x', hash), false, tool);
      assert.equal(verifyCrypt(password.slice(1), hash), false, tool);
    }
  });

  it('agrees with the tools installed here on fresh salts', (t) => {
    const made = [
      ...['-1', '-apr1', '-5', '-6'].map((o) => run('openssl', ['passwd', o, PW])),
      ...['sha512crypt', 'sha256crypt', 'bcrypt', 'md5crypt'].map((m) => run('mkpasswd', ['-m', m, PW])),
      run('htpasswd', ['-nbB', 'u', PW])?.slice(2),
    ].filter((h): h is string => h !== undefined);
    if (made.length === 0) t.skip('neither openssl, mkpasswd nor htpasswd is installed');
    for (const hash of made) {
      assert.equal(verifyCrypt(PW, hash), true, hash);
      assert.equal(verifyCrypt('wrong', hash), false, hash);
    }
  });

  it('checks through verifyPassword (in a worker thread)', async () => {
    const [, , sha] = VECTORS[3] ?? [];
    const [, , bc] = VECTORS[6] ?? [];
    for (const hash of [sha, bc]) {
      assert.equal(await verifyPassword(PW, hash ?? ''), true);
      assert.equal(await verifyPassword('nope', hash ?? ''), false);
    }
  });

  it('refuses malformed, too costly and yescrypt hashes with a reason that does not quote them', () => {
    const cases: readonly (readonly [string, RegExp])[] = [
      ['$6$salt$tooshort', /wrong length/],
      ['$6$rounds=999999999$salt$' + 'a'.repeat(86), /rounds above/],
      ['$2b$31$' + 'a'.repeat(53), /bcrypt cost/],
      ['$2b$10$abcdefghijklmnopqrstuv', /a malformed bcrypt hash/],
      ['$1$abc', /a malformed MD5-crypt hash/],
      ['$apr1$s4ltS4lt$', /a malformed MD5-crypt hash/],
      ['$6$saltsalt', /a malformed SHA-crypt hash/],
      ['$3$$abc', /not a supported crypt hash/],
      ['abJnggxhB/yWI', /DES crypt hash: recognised, but refused as too weak/],
      [
        '$y$j9T$7YFRGTMW12fSFGD9eBUW0/$4FN1YnfFHrnCjkl87aSknZv6pnLfVIOpdBRavjICZiC',
        /yescrypt.*ferry users passwd/,
      ],
      ['$1$toolongsalt$twIlAEN3PT1WWufuYNAXp.', /a malformed MD5-crypt hash/],
      ['hunter2', /not a password hash/],
    ];
    for (const [hash, why] of cases) {
      const problem = passwordHashProblem(hash);
      assert.match(problem ?? '', why, hash);
      assert.ok(!problem?.includes(hash.slice(3, 12)), problem);
      assert.equal(isPasswordHash(hash), false);
    }
    assert.equal(cryptKind('scrypt$1$2'), undefined);
  });
});

describe('crypt hashes in the users file', () => {
  const file = '/srv/ferry/users.yaml';
  const text = (hash: string) => `users:\n  - name: ann\n    passwordHash: '${hash}'\n    home: /srv/ann\n`;

  it('are accepted', () => {
    assert.equal(parseUsersFile(text(VECTORS[3]?.[2] ?? ''), file).get('ann')?.passwordHash, VECTORS[3]?.[2]);
  });

  it('are refused when malformed, naming the user and key but not quoting the hash', () => {
    const bad = '$6$s4ltS4ltS4ltS4lt$3Ci8YW94OSexAQElOj6LX';
    assert.throws(
      () => parseUsersFile(text(bad), file),
      (err: Error) =>
        /users\.0 \(ann\)\.passwordHash: user "ann": .*wrong length/.test(err.message) &&
        !err.message.includes(bad),
    );
  });
});
