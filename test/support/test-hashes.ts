/**
 * The tests' password hashes: scrypt at its least cost (N=16, r=1, p=1: microseconds) rather than
 * the production cost (16 MiB and tens of milliseconds of a core each), which the suite paid for
 * every account it made and every first login, and which no test is about. The tests of the cost
 * itself (password.test, serve.test's hash-password) use hashPassword's default.
 */
import { hashPassword, type ScryptCost } from '../../src/auth/password.js';
import { UserTable, type PlainUserEntry, type UserTableOptions } from '../../src/auth/users.js';
import { HASH_COST_ENV } from '../../src/cli/hash-cost.js';

export const TEST_HASH_COST: ScryptCost = { N: 16, r: 1, p: 1 };

/** What makes a `ferry` process hash at TEST_HASH_COST (its users add, serve --user, upgrades). */
export const TEST_HASH_ENV: Readonly<Record<string, string>> = {
  [HASH_COST_ENV]: `${TEST_HASH_COST.N},${TEST_HASH_COST.r},${TEST_HASH_COST.p}`,
};

/** A scrypt hash of `password` for a test account. */
export function testHash(password: string): Promise<string> {
  return hashPassword(password, TEST_HASH_COST);
}

/** UserTable.fromPlain at TEST_HASH_COST (an unknown user's check costs that too). */
export function testUsers(
  entries: readonly PlainUserEntry[],
  options: UserTableOptions = {},
): Promise<UserTable> {
  return UserTable.fromPlain(entries, { hashCost: TEST_HASH_COST, ...options });
}
