// A Ferry node on PostgreSQL for the tests of test/db: a server in this process with its accounts,
// bans, quota usage and session leases in the database (two stand for two nodes).
import { AccountAuthenticator } from '../../src/auth/authenticator.js';
import { openServingState, type ServingState } from '../../src/cli/shared-state.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { LocalStorage } from '../../src/storage/local.js';
import { withLimits } from '../../src/storage/limited.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import { connectSecure, startServer, type Mode } from '../e2e/harness.js';
import type { TestServer } from './ferry.js';
import { TEST_HASH_COST, testHash } from './test-hashes.js';

export interface Node {
  ts: TestServer;
  shared: ServingState;
  close(): Promise<void>;
}

/** A Ferry node on the database: its accounts, bans, quota usage and session leases there. */
export async function startNode(url: string, threshold = 1000, logger: Logger = silentLogger): Promise<Node> {
  const shared = await openServingState(url, logger);
  const limits = { usage: new QuotaBook(shared.usage), rates: new RateBuckets() };
  const ts = await startServer({
    authenticator: new AccountAuthenticator([shared.accounts], {
      offlineLoginMs: 60_000,
      hashCost: TEST_HASH_COST,
    }),
    sharedBans: shared.bans,
    storageFor: (p) => withLimits(new LocalStorage({ root: p.home }), p, limits),
    defender: { threshold },
  });
  ts.server.countUserSessionsWith(shared.sessions);
  return {
    ts,
    shared,
    close: async () => {
      await ts.close();
      await shared.close();
    },
  };
}

export async function addUser(
  node: Node,
  name: string,
  password: string,
  home: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await node.shared.accounts.add({
    username: name,
    passwordHash: await testHash(password),
    home,
    ...extra,
  });
}

/** PASS's reply code for `user` on a fresh connection. */
export async function tryLogin(ts: TestServer, mode: Mode, user: string, pass: string): Promise<number> {
  const ftp = await connectSecure(ts, mode);
  try {
    await ftp.cmd(`USER ${user}`, 331);
    return (await ftp.cmd(`PASS ${pass}`)).code;
  } finally {
    await ftp.close();
  }
}
