/** Alice's Ferry on a test bucket (under `alice/`): the server the S3 e2e files share. */
import type { ServerOptions } from '../../src/server/options.js';
import { S3Storage } from '../../src/storage/s3.js';
import type { CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { startServer } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

export async function serveAliceOn(
  b: Pick<CephBucket, 'conn' | 'bucket'>,
  overrides: Partial<ServerOptions> = {},
): Promise<TestServer> {
  return startServer({
    authenticator: await testUsers([{ username: 'alice', password: 'secret', home: '' }]),
    storageFor: () => new S3Storage({ connection: b.conn, bucket: b.bucket, prefix: 'alice/' }),
    ...overrides,
  });
}
