/**
 * A login's upgrade of a crypt hash in PostgreSQL (replaceHash) is no change of the account: the
 * other nodes are not told of it (their sessions would follow a change nobody made), while an
 * administrator's new password (a hash with a new passwordSet) and any other edit are.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setPasswordHash } from '../../src/auth/account.js';
import { openServingState } from '../../src/cli/shared-state.js';
import { silentLogger } from '../../src/logger.js';
import { usePostgres } from '../support/postgres.js';
import { testHash } from '../support/test-hashes.js';

const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'; // openssl passwd -apr1 -salt s4ltS4lt

describe('hash upgrades in PostgreSQL accounts (real PostgreSQL 15)', () => {
  const fx = usePostgres('ferry-pg-rehash-');

  test("node A's hash upgrade is not announced to node B; an admin's password change is", async () => {
    const a = await openServingState(fx.pg.url, silentLogger);
    const b = await openServingState(fx.pg.url, silentLogger);
    const seen: string[] = [];
    let heard = (): void => {};
    const off = b.accounts.onChange((names) => {
      seen.push(...names);
      heard();
    });
    /** Resolves once B has heard of `n` changes in all. */
    const heardOf = (n: number): Promise<void> =>
      new Promise((resolve) => {
        heard = () => seen.length >= n && resolve();
        heard();
      });
    // What every node reads to learn of changes (and is notified of).
    const logged = async (): Promise<number> =>
      (
        await a.accounts.db.query<{ n: string }>(
          "SELECT count(*) AS n FROM ferry_changes WHERE kind = 'account' AND key = 'ann'",
        )
      ).rows.map((r) => Number(r.n))[0] ?? 0;
    try {
      await a.accounts.add({ username: 'ann', passwordHash: APR1, home: fx.dir });
      await heardOf(1);
      const scrypt = await testHash('pässwörd 123!');
      assert.equal(await a.accounts.replaceHash('ann', APR1, scrypt), true);
      assert.equal((await b.accounts.lookup('ann'))?.passwordHash, scrypt, 'written all the same');
      assert.equal(await logged(), 1, 'the upgrade is not in the change log: no node is told');
      // An admin's new password (the crypt hash again, as `ferry users set --password-hash` gives it).
      // Over a scrypt hash that is told apart from an upgrade without passwordSet: none is written
      // (an older Ferry refuses an account that has it).
      await a.accounts.update('ann', (acc) => setPasswordHash(acc, APR1));
      assert.equal((await b.accounts.lookup('ann'))?.passwordSet, undefined, 'scrypt → crypt');
      assert.equal(await logged(), 2);
      await heardOf(2);
      // A scrypt hash the admin gives over a crypt one is an upgrade but for its passwordSet.
      await a.accounts.update('ann', (acc) => setPasswordHash(acc, scrypt));
      assert.ok((await b.accounts.lookup('ann'))?.passwordSet !== undefined, 'crypt → scrypt');
      assert.equal(await logged(), 3);
      await heardOf(3);
      assert.deepEqual(seen, ['ann', 'ann', 'ann']);
    } finally {
      off();
      await a.close();
      await b.close();
    }
  });
});
