// `storage:` in the config: the server's default backend (S3) and how a user's home picks one.
// A home is a host directory (local disk), `s3://bucket/prefix/` (S3, on the configured endpoint),
// or absent: then `<storage.s3.prefix><username>/` in `storage.s3.bucket`.
import * as z from 'zod';
import type { Principal } from '../auth/types.js';
import { onlyReads } from '../auth/permissions.js';
import { FerryError, StorageError } from '../errors.js';
import { hostStorage } from './user-storage.js';
import {
  S3Connection,
  isS3Home,
  normalizePrefix,
  parseS3Home,
  s3Settings,
  sameS3Settings,
  type S3Settings,
} from '../storage/s3-connection.js';
import { S3Storage } from '../storage/s3.js';
import { causeOf } from '../server/storage-warnings.js';
import { credentialsProblem } from '../storage/s3-errors.js';
import type { StorageBackend } from '../storage/types.js';
import { PoolBudget } from '../storage/pool-budget.js';
import { MountTable } from '../storage/local-filesystems.js';
import { UploadLocks } from '../storage/upload-locks.js';

const positive = z.number().int().positive();
export const storageSchema = z
  .object({
    s3: z
      .object({
        endpoint: z.string().url().optional(),
        bucket: z.string().min(3).max(63),
        prefix: z.string().optional(),
        region: z.string().min(1).optional(),
        forcePathStyle: z.boolean().optional(),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        sessionToken: z.string().min(1).optional(),
        partSize: positive.optional(),
        readAhead: z.number().int().min(0).optional(),
        maxRenameObjects: positive.optional(),
        maxAttempts: positive.optional(),
        signPayload: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type StorageConfig = z.infer<typeof storageSchema>;

/** The AWS variables the CLI passes on (only cli/ reads the environment). */
export interface AwsEnv {
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  AWS_REGION?: string;
  AWS_ENDPOINT_URL_S3?: string;
}

/** The AWS variables of this process's environment. */
export function awsEnv(): AwsEnv {
  const e = process.env;
  return {
    AWS_ACCESS_KEY_ID: e.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: e.AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN: e.AWS_SESSION_TOKEN,
    AWS_REGION: e.AWS_REGION,
    AWS_ENDPOINT_URL_S3: e.AWS_ENDPOINT_URL_S3,
  };
}

export interface HomeToCheck {
  home: string;
  /** How errors name it: `FILE: users.0.home`. */
  where: string;
  /** The account's name, when a bucket it alone uses may be refused without stopping the server. */
  user?: string;
}

/** A user whose home's bucket cannot be used: their logins are refused (530), the others go on. */
export interface RefusedHome {
  user: string;
  where: string;
  bucket: string;
  reason: string;
}

export interface StorageSetup {
  storageFor(p: Principal): StorageBackend;
  /**
   * The process's upload locks, given to every LocalStorage it builds (the sessions' homes and
   * folders): APPE/REST uploads to one file take turns. Kept across reloads, as sessions are.
   */
  readonly locks: UploadLocks;
  /** The process's thread-pool budget, given to every LocalStorage it builds; kept across reloads. */
  readonly poolBudget: PoolBudget;
  /** The process's judge of which trees are on local filesystems, for every LocalStorage it builds. */
  readonly mounts: MountTable;
  /**
   * HeadBucket on every bucket in use: throws (Ferry refuses to start, a reload is refused) when the
   * default bucket or a home marked `fatal` (the config's own users) cannot be used, or when the
   * storage cannot be reached. Any other home whose bucket is missing or refused (a users-file
   * account: added behind `ferry users`' back, or its bucket deleted since) is returned instead,
   * and `storageFor` refuses that user until a reload finds the bucket again.
   */
  check(homes: readonly HomeToCheck[]): Promise<RefusedHome[]>;
  /** HeadBucket on an `s3://` home's bucket (`ferry users add/set --home`); `where` names it. */
  checkHome(home: string, where: string): Promise<void>;
  /** Its S3 connection, shared with a new holder, when it has one with these settings. */
  share(settings: S3Settings): S3Connection | undefined;
  /**
   * Replaced (a reload): lets go of its S3 connection, which closes its sockets once no newer setup
   * shares it and the requests in flight are done (sessions from before go on working).
   */
  retire(): void;
  /** Shutdown, after the server closed: the S3 client's sockets are destroyed. */
  close(): void;
}

/**
 * `key` is how errors name the setting (`FILE: storage.s3`). `before`: the setup this one replaces
 * (a reload), whose S3 connection is used again when the settings are the same.
 */
export function storageSetup(
  config: StorageConfig | undefined,
  env: AwsEnv,
  key: string,
  before?: StorageSetup,
): StorageSetup {
  const s3 = config?.s3;
  let conn: S3Connection | undefined;
  const connection = (): S3Connection => {
    if (conn) return conn;
    let settings: S3Settings;
    try {
      settings = s3Settings({
        endpoint: s3?.endpoint ?? env.AWS_ENDPOINT_URL_S3,
        region: s3?.region ?? env.AWS_REGION,
        forcePathStyle: s3?.forcePathStyle,
        accessKeyId: s3?.accessKeyId ?? (s3?.secretAccessKey ? undefined : env.AWS_ACCESS_KEY_ID),
        secretAccessKey: s3?.secretAccessKey ?? (s3?.accessKeyId ? undefined : env.AWS_SECRET_ACCESS_KEY),
        sessionToken: s3?.sessionToken ?? (s3?.accessKeyId ? undefined : env.AWS_SESSION_TOKEN),
        partSize: s3?.partSize,
        readAhead: s3?.readAhead,
        maxRenameObjects: s3?.maxRenameObjects,
        maxAttempts: s3?.maxAttempts,
        signPayload: s3?.signPayload,
      });
    } catch (err) {
      throw new FerryError('ERR_USAGE', `${key.replace(/\.s3$/, '')}.${(err as Error).message}`);
    }
    return (conn = before?.share(settings) ?? new S3Connection(settings));
  };
  if (s3) connection(); // settings checked at start
  const defaultPrefix = normalizePrefix(s3?.prefix ?? '');
  const locks = before?.locks ?? new UploadLocks();
  const poolBudget = before?.poolBudget ?? new PoolBudget();
  const mounts = before?.mounts ?? new MountTable();

  const where = (p: Principal): { bucket: string; prefix: string } | undefined => {
    if (p.home === '') {
      if (!s3) throw new StorageError('permission-denied', `user ${p.username} has no home`);
      return { bucket: s3.bucket, prefix: `${defaultPrefix}${p.username}/` };
    }
    return isS3Home(p.home) ? parseS3Home(p.home) : undefined;
  };

  /** Buckets whose users' homes were refused by the last check, with why. */
  const refused = new Map<string, StorageError>();
  const headBucket = (bucket: string, where: string): Promise<void> =>
    connection()
      .checkBucket(bucket, AbortSignal.timeout(60_000))
      .catch((err: unknown) => {
        const kind = err instanceof StorageError ? err.kind : 'unavailable';
        // Out of reach: where it was looked for and why (ECONNREFUSED, a DNS failure), as the
        // runtime's `storage unavailable` warning says.
        const cause = err instanceof Error ? causeOf(err) : undefined;
        const endpoint = connection().settings.endpoint ?? 'AWS';
        const why = kind === 'unavailable' ? ` (${[endpoint, cause].filter(Boolean).join(': ')})` : '';
        throw new StorageError(
          kind,
          `${where}: bucket "${bucket}" cannot be used: ${(err as Error).message.replace(/\.$/, '')}${why}.`,
          { cause: err },
        );
      });
  const usage = (err: unknown): FerryError =>
    new FerryError('ERR_USAGE', (err as Error).message, { cause: err });

  return {
    locks,
    poolBudget,
    mounts,
    storageFor(p) {
      const at = where(p);
      if (!at) return hostStorage(p.home, onlyReads(p), { locks, poolBudget, mounts });
      const no = refused.get(at.bucket);
      if (no) throw new StorageError(no.kind, no.message, { cause: no });
      return new S3Storage({ connection: connection(), ...at, readOnly: onlyReads(p), locks });
    },
    async check(homes) {
      // bucket → the first name for it, whether it must be usable, and the users on it.
      const buckets = new Map<string, { where: string; fatal: boolean; users: HomeToCheck[] }>();
      if (s3) buckets.set(s3.bucket, { where: `${key}.bucket`, fatal: true, users: [] });
      for (const h of homes) {
        if (h.home === '' && !s3)
          throw new FerryError('ERR_USAGE', `${h.where}: no home, and no ${key} to put it in.`);
        const at = isS3Home(h.home) ? parseS3Home(h.home) : undefined;
        if (isS3Home(h.home) && !at)
          throw new FerryError('ERR_USAGE', `${h.where}: expected s3://bucket/prefix/, got "${h.home}".`);
        if (!at) continue;
        const b = buckets.get(at.bucket) ?? { where: h.where, fatal: false, users: [] };
        buckets.set(at.bucket, b);
        if (h.user === undefined) b.fatal = true;
        else b.users.push(h);
      }
      const out: RefusedHome[] = [];
      for (const [bucket, b] of buckets) {
        try {
          await headBucket(bucket, b.where);
          refused.delete(bucket); // there again (a users-file change checked while serving)
        } catch (err) {
          // The storage out of reach (or another failure) says nothing about this bucket: as before.
          // Credentials missing or refused are everyone's problem, not this bucket's.
          const kind = (err as StorageError).kind;
          const ours = kind === 'not-found' || (kind === 'permission-denied' && !credentialsProblem(err));
          if (b.fatal || !ours) throw usage(err);
          refused.set(bucket, err as StorageError);
          for (const u of b.users)
            out.push({ user: u.user ?? '', where: u.where, bucket, reason: (err as Error).message });
        }
      }
      return out;
    },
    async checkHome(home, where) {
      const at = parseS3Home(home);
      if (!at) throw new FerryError('ERR_USAGE', `${where}: expected s3://bucket/prefix/, got "${home}".`);
      await headBucket(at.bucket, where).catch((err: unknown) => {
        throw usage(err);
      });
    },
    share(settings) {
      return conn && sameS3Settings(conn.settings, settings) ? conn.share() : undefined;
    },
    retire() {
      conn?.retire();
    },
    close() {
      conn?.close();
    },
  };
}
