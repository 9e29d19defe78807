import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secret } from '../../src/auth/types.js';
import { UserTable, type PlainUserEntry } from '../../src/auth/users.js';
import type { Logger } from '../../src/logger.js';
import { FerryServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { LocalStorage } from '../../src/storage/local.js';
import { generateSelfSigned, type KeyPair } from '../../src/tls/certificates.js';
import { writeFile, mkdir } from 'node:fs/promises';
import { testUsers } from './test-hashes.js';

export interface TestServer {
  readonly server: FerryServer;
  readonly host: '127.0.0.1';
  readonly explicitPort: number;
  readonly implicitPort: number;
  /** Host directory the user `alice` (password `secret`) is rooted at. */
  readonly root: string;
  readonly user: string;
  readonly password: string;
  /** Log lines the server wrote (for assertions on what is logged). */
  readonly logs: { level: string; msg: string; obj: object }[];
  close(): Promise<void>;
}

let sharedPair: Promise<KeyPair> | undefined;
/** One certificate for the whole test process: RSA generation is the slow part. */
export function testCertificate(): Promise<KeyPair> {
  sharedPair ??= generateSelfSigned('localhost');
  return sharedPair;
}

function captureLogger(logs: TestServer['logs'], bindings: object = {}): Logger {
  const at =
    (level: string) =>
    (obj: object, msg = ''): void => {
      logs.push({ level, msg, obj: { ...bindings, ...obj } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (b) => captureLogger(logs, { ...bindings, ...b }),
  };
}

/**
 * A UserTable whose users (those `names`, by default all) are already logged in once: the login cache holds their passwords, so no
 * login of them hashes (scrypt). For servers with a command time limit of a second or less, which
 * also bounds PASS: a hash on a loaded machine can take longer than that.
 */
export async function warmedTable(
  entries: readonly PlainUserEntry[],
  names: readonly string[] = entries.map((e) => e.username),
): Promise<UserTable> {
  const users = await testUsers(entries);
  for (const e of entries.filter((x) => names.includes(x.username))) {
    const c = {
      username: e.username,
      password: new Secret(e.password),
      remoteAddress: '127.0.0.1',
      tls: true,
    };
    const outcome = await users.authenticate(c, new AbortController().signal);
    if (!outcome.ok) throw new Error(`warmedTable: ${e.username} could not log in (${outcome.reason})`);
  }
  return users;
}

/** startFerry's user (alice, secret) in a warmed table, for servers whose storage ignores the home. */
export function warmedUsers(home = os.tmpdir()): Promise<UserTable> {
  return warmedTable([{ username: 'alice', password: 'secret', home }]);
}

/** A Ferry server on ephemeral loopback ports with a temp root and a temp certificate. */
export async function startFerry(overrides: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-test-'));
  const root = path.join(dir, 'root');
  const certDir = path.join(dir, 'tls');
  await mkdir(root);
  await mkdir(certDir);
  const pair = await testCertificate();
  await writeFile(path.join(certDir, 'cert.pem'), pair.cert);
  await writeFile(path.join(certDir, 'key.pem'), pair.key);
  const users = await testUsers([{ username: 'alice', password: 'secret', home: root }]);
  const logs: TestServer['logs'] = [];
  const server = new FerryServer({
    explicit: { host: '127.0.0.1', port: 0 },
    implicit: { host: '127.0.0.1', port: 0 },
    authenticator: users,
    storageFor: (p) => new LocalStorage({ root: p.home, readOnly: p.readOnly }),
    logger: captureLogger(logs),
    ...overrides,
    // Merged: a test turning one TLS setting (requireSessionReuse) keeps the test certificate.
    tls: {
      certificates: [{ certFile: path.join(certDir, 'cert.pem'), keyFile: path.join(certDir, 'key.pem') }],
      dataDir: path.join(dir, 'data'),
      ...overrides.tls,
    },
  });
  const a = await server.listen();
  return {
    server,
    host: '127.0.0.1',
    explicitPort: a.explicit?.port ?? 0,
    implicitPort: a.implicit?.port ?? 0,
    root,
    user: 'alice',
    password: 'secret',
    logs,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
