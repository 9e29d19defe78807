/**
 * A cluster worker for tests of ClusterPrimary, as `ferry serve --workers N` runs one: a FerryServer
 * with no listeners of its own, serving what the primary hands it (certificate and key files: argv).
 */
import { UserTable } from '../../src/auth/users.js';
import { runWorker } from '../../src/cli/workers.js';
import { silentLogger } from '../../src/logger.js';
import { FerryServer } from '../../src/server/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';

const [certFile = '', keyFile = ''] = process.argv.slice(2);
const server = new FerryServer({
  authenticator: new UserTable([]),
  storageFor: () => new MemoryStorage(),
  tls: { certificates: [{ certFile, keyFile }] },
  logger: silentLogger,
});
await runWorker(server);
