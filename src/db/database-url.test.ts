import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasPassword, redact } from './database-url.js';

test('the database URL is shown without its password, however it is written', () => {
  const cases: [string, string][] = [
    ['postgres://ferry:s3cret@db.example/ferry', 'postgres://ferry:****@db.example/ferry'],
    // An `@` or a `/` in the password, unencoded: all of it hidden, not only up to that character.
    ['postgres://u:p@ss@db/x', 'postgres://u:****@db/x'],
    ['postgres://u:a/b@db', 'postgres://u:****@db'],
    // libpq takes the password from the query too.
    [
      'postgresql://u@db/x?sslmode=require&password=s3cret',
      'postgresql://u@db/x?sslmode=require&password=****',
    ],
    ['postgres://db/x?PASSWORD=s3cret&sslpassword=k3y', 'postgres://db/x?PASSWORD=****&sslpassword=****'],
    ['postgres://u:p@db/x?password=a@b', 'postgres://u:****@db/x?password=****'],
    ['postgres://u@db:5432/x', 'postgres://u@db:5432/x'],
  ];
  for (const [url, shown] of cases) assert.equal(redact(url), shown, url);
});

test('a password is found in the user part or in the query', () => {
  assert.equal(hasPassword('postgres://u:a/b@db'), true);
  assert.equal(hasPassword('postgres://u@db/x?password=s3cret'), true);
  assert.equal(hasPassword('postgres://u@db/x?sslmode=require'), false);
  assert.equal(hasPassword('postgres:///ferry?host=/run/postgresql'), false);
});
