import { DEFAULT_SCRYPT_COST, scryptCostProblem, type ScryptCost } from '../auth/password.js';
import { FerryError } from '../errors.js';

/** The variable a test suite sets to make the hashes `ferry` makes cheap (README: Tests). */
export const HASH_COST_ENV = 'FERRY_TEST_SCRYPT_COST';

/**
 * The scrypt cost of the password hashes this process makes (`ferry users add|passwd`,
 * `hash-password`, `serve --user`, a migrated hash's upgrade) and of an unknown user's check:
 * `FERRY_TEST_SCRYPT_COST=N,r,p` when set, for test suites (thousands of throwaway accounts),
 * else the production default. A hash keeps the cost it was made with, so this never belongs in
 * a real server's environment.
 */
export function hashCostOf(env: NodeJS.ProcessEnv): ScryptCost {
  const text = env[HASH_COST_ENV];
  if (text === undefined || text === '') return DEFAULT_SCRYPT_COST;
  const m = /^(\d{1,8}),(\d{1,3}),(\d{1,3})$/.exec(text);
  if (!m) throw new FerryError('ERR_USAGE', `${HASH_COST_ENV}: expected N,r,p such as 16,1,1.`);
  const cost = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const problem = scryptCostProblem(cost);
  if (problem) throw new FerryError('ERR_USAGE', `${HASH_COST_ENV}: ${problem}.`);
  return cost;
}
