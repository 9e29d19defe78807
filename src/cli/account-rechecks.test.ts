import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { recheckAccounts } from './account-rechecks.js';

// T1: a database that accepted and never answered made the lookup of a changed account reject in
// a recheck nobody awaited: 'Uncaught FerryError: database unavailable' ended the node.
test('a lookup failing (the database away) is a warning, not a rejection', async () => {
  const warned: string[] = [];
  const logger = { warn: (_o: object, msg: string) => void warned.push(msg) } as unknown as Logger;
  let checked = false;
  await recheckAccounts(['dora'], {
    lookup: () =>
      Promise.reject(
        new FerryError('ERR_TRANSIENT', 'database unavailable: timeout exceeded when trying to connect'),
      ),
    check: async () => {
      checked = true;
    },
    closed: () => false,
    logger,
  });
  assert.equal(checked, false);
  assert.deepEqual(warned, ['accounts changed: their homes could not be checked']);
});

test('the accounts found are checked; none found or the setup closed: nothing checked', async () => {
  const seen: string[][] = [];
  const r = {
    lookup: async (n: string) => (n === 'gone' ? undefined : { username: n, passwordHash: 'x', home: '/h' }),
    check: async (a: { username: string }[]) => void seen.push(a.map((x) => x.username)),
    closed: () => false,
  };
  await recheckAccounts(['a', 'gone'], r);
  await recheckAccounts(['gone'], r);
  await recheckAccounts(['b'], { ...r, closed: () => true });
  assert.deepEqual(seen, [['a']]);
});
