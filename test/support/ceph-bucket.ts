/**
 * The set-up the S3 tests share: a throw-away Ceph RADOS Gateway (ceph.ts) with one bucket (more on
 * request), an SDK client straight to it (the tests' independent reader and writer) and Ferry's
 * S3Connection to it. close() ends all three.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { S3Connection, s3Settings, type S3SettingsInput } from '../../src/storage/s3-connection.js';
import { startCeph, type CephGateway } from './ceph.js';

export interface CephBucket {
  readonly ceph: CephGateway;
  readonly bucket: string;
  /** The buckets asked for in `gateway.more`, in that order. */
  readonly more: readonly string[];
  /** The gateway's credentials as the SDK's environment variables (for a `ferry` process, serveSetup). */
  readonly env: Readonly<Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY', string>>;
  readonly admin: S3Client;
  /** Ferry's connection to the gateway, with the settings given at the start. */
  readonly conn: S3Connection;
  /** Another connection to the gateway (its endpoint, keys, path style), `o` overriding any of them. */
  connection(o?: S3SettingsInput): S3Connection;
  close(): Promise<void>;
}

/**
 * A gateway with a bucket named from `name`; `settings` for `conn` (partSize, maxAttempts…), `gateway`
 * for the gateway itself (its memstore's size, `own` for a cluster of its own rather than the run's
 * shared one: see ceph.ts) and the other buckets to make (named from `more`).
 */
export async function startCephBucket(
  name: string,
  settings: S3SettingsInput = {},
  gateway: { memBytes?: number; more?: readonly string[]; own?: boolean } = {},
): Promise<CephBucket> {
  const ceph = await startCeph({
    ...(gateway.memBytes !== undefined && { memBytes: gateway.memBytes }),
    ...(gateway.own !== undefined && { own: gateway.own }),
  });
  const connection = (o: S3SettingsInput = {}): S3Connection =>
    new S3Connection(
      s3Settings({
        endpoint: ceph.endpoint,
        forcePathStyle: true,
        accessKeyId: ceph.accessKeyId,
        secretAccessKey: ceph.secretAccessKey,
        ...o,
      }),
    );
  const admin = ceph.client();
  const stop = async (): Promise<void> => {
    admin.destroy();
    await ceph.stop();
  };
  let bucket: string;
  const more: string[] = [];
  try {
    bucket = await ceph.bucket(name);
    for (const other of gateway.more ?? []) more.push(await ceph.bucket(other));
  } catch (err) {
    await stop(); // a failed start leaves no daemon running
    throw err;
  }
  const conn = connection(settings);
  return {
    ceph,
    bucket,
    more,
    env: { AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey },
    admin,
    conn,
    connection,
    async close() {
      conn.close();
      await stop();
    },
  };
}
