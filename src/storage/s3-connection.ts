// One S3 endpoint and its credentials, shared by every S3Storage of a server. The AWS SDK is
// loaded on first use (dynamic import), so a server without S3 homes never pays its start-up time
// and memory.
import https from 'node:https';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { FerryError } from '../errors.js';
import { LargeReadAgent } from './s3-agent.js';
import { UploadLocks } from './upload-locks.js';
import { mapS3Error } from './s3-errors.js';
import { withoutNodeVersionWarning } from './sdk-node-warning.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024; // S3's minimum for every part but the last
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface S3Settings {
  /** http(s)://host:port of the S3 service; the AWS default for `region` when absent. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`): needed where buckets have no DNS names (Ceph, MinIO). */
  forcePathStyle: boolean;
  /** From the config; when absent, the SDK's default chain (AWS_ACCESS_KEY_ID, …, profiles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bytes per multipart part: at most two parts of an upload are in memory (default 8 MiB). */
  partSize: number;
  /**
   * Ranged GETs of partSize fetched ahead of the one being sent (default 0: one GET per download).
   * Each holds up to one part in memory until its turn; worth it where the gateway, not this
   * process's CPU, limits a download.
   */
  readAhead: number;
  /** A directory rename copies each object: refused (553) above this many (default 1000). */
  maxRenameObjects: number;
  /** Attempts per request, throttling and 5xx included, with exponential backoff (default 4). */
  maxAttempts: number;
  /** Uploaded bytes hashed into each request's signature (default false: UNSIGNED-PAYLOAD). */
  signPayload: boolean;
}

export interface S3SettingsInput {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  partSize?: number;
  readAhead?: number;
  maxRenameObjects?: number;
  maxAttempts?: number;
  signPayload?: boolean;
}

/** Checks the settings once; errors name the key (`s3.partSize`), as the caller prefixes it. */
export function s3Settings(i: S3SettingsInput): S3Settings {
  const bad = (key: string, what: string): FerryError =>
    new FerryError('ERR_INVALID_OPTION', `s3.${key}: ${what}`);
  if (i.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(i.endpoint);
    } catch {
      throw bad('endpoint', `expected an http(s) URL, got "${i.endpoint}".`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw bad('endpoint', `expected an http(s) URL, got "${i.endpoint}".`);
  }
  if ((i.accessKeyId === undefined) !== (i.secretAccessKey === undefined))
    throw bad(i.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey', 'give both keys, or neither.');
  const partSize = i.partSize ?? 8 * 1024 * 1024;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE)
    throw bad(
      'partSize',
      `expected ${MIN_PART_SIZE} (5 MiB) to ${MAX_PART_SIZE} (5 GiB) bytes, got ${partSize}.`,
    );
  const readAhead = i.readAhead ?? 0;
  if (!Number.isSafeInteger(readAhead) || readAhead < 0 || readAhead > 16)
    throw bad('readAhead', `expected 0 to 16, got ${readAhead}.`);
  const maxRenameObjects = i.maxRenameObjects ?? 1000;
  if (!Number.isSafeInteger(maxRenameObjects) || maxRenameObjects < 1)
    throw bad('maxRenameObjects', `expected a positive integer, got ${maxRenameObjects}.`);
  const maxAttempts = i.maxAttempts ?? 4;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20)
    throw bad('maxAttempts', `expected 1 to 20, got ${maxAttempts}.`);
  return {
    ...(i.endpoint !== undefined ? { endpoint: i.endpoint } : {}),
    region: i.region ?? 'us-east-1',
    forcePathStyle: i.forcePathStyle ?? false,
    ...(i.accessKeyId !== undefined && i.secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId: i.accessKeyId,
            secretAccessKey: i.secretAccessKey,
            ...(i.sessionToken !== undefined ? { sessionToken: i.sessionToken } : {}),
          },
        }
      : {}),
    partSize,
    readAhead,
    maxRenameObjects,
    maxAttempts,
    signPayload: i.signPayload ?? false,
  };
}

export type S3Sdk = typeof import('@aws-sdk/client-s3');

const quiet = (): void => undefined;
const SILENT = { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet };

/** Same settings: a connection made with `a` can serve where `b` is asked for. */
export function sameS3Settings(a: S3Settings, b: S3Settings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The client of one endpoint, made on first use; close() releases its sockets. Holders (a server
 * configuration and the one a reload made from it) share it: share() adds one, retire() lets one go,
 * and when the last has, requests in flight end normally and no socket is kept alive after them.
 */
export class S3Connection {
  readonly settings: S3Settings;
  /** APPE and REST n + STOR to one object take turns (S3Storage), unless given a registry of the process's. */
  readonly locks = new UploadLocks();
  #loading: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  #closed = false;
  #holders = 1;
  // Our own agents (the SDK's defaults: keep-alive, 50 sockets), so that retire() can reach them;
  // plain HTTP reads in large pieces (s3-agent.ts).
  readonly #agents = [
    new LargeReadAgent({ keepAlive: true, maxSockets: 50 }),
    new https.Agent({ keepAlive: true, maxSockets: 50 }),
  ] as const;

  constructor(settings: S3Settings) {
    this.settings = settings;
  }

  /** One more holder (a reloaded configuration with the same settings goes on using it). */
  share(): this {
    this.#holders++;
    return this;
  }

  /**
   * A holder is done with it. After the last: idle sockets close now, busy ones when their request
   * ends; a session from before the reload still works (a socket per request, closed after it).
   */
  retire(): void {
    if (--this.#holders > 0) return;
    for (const agent of this.#agents) {
      // A socket that comes free is then closed, not pooled (Agent's own `keepAlive`, untyped).
      Object.assign(agent, { keepAlive: false });
      for (const idle of Object.values(agent.freeSockets)) for (const s of idle ?? []) s.destroy();
    }
  }

  /** The SDK module and the client (the first call imports the SDK). */
  async get(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    if (this.#closed) throw new FerryError('ERR_CLOSED', 'S3 connection closed.');
    this.#loading ??= import('@aws-sdk/client-s3').then((sdk) => {
      const s = this.settings;
      const config: S3ClientConfig = {
        region: s.region,
        forcePathStyle: s.forcePathStyle,
        maxAttempts: s.maxAttempts,
        retryMode: 'standard',
        // The default checksums make a streamed body need a length, and some S3 services
        // (Ceph 16) reject the trailers; checksums only where the API requires them.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
        ...(s.credentials ? { credentials: s.credentials } : {}),
        requestHandler: { httpAgent: this.#agents[0], httpsAgent: this.#agents[1] },
        // Errors reach the caller; without a logger the SDK writes to the console when a streamed
        // request fails (an upload's last streamed part is cut short on purpose).
        logger: SILENT,
      };
      return { sdk, client: withoutNodeVersionWarning(() => new sdk.S3Client(config)) };
    });
    return this.#loading;
  }

  /** HeadBucket: the bucket exists and these credentials may use it (checked at start). */
  async checkBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    const { sdk, client } = await this.get();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }), signal ? { abortSignal: signal } : {});
    } catch (err) {
      throw mapS3Error(err, 'check bucket', bucket);
    }
  }

  /** Sockets with a request in flight (diagnostics; a test that nothing was left running). */
  get busySockets(): number {
    let n = 0;
    for (const agent of this.#agents) for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
    return n;
  }

  close(): void {
    this.#closed = true;
    for (const agent of this.#agents) agent.destroy();
    void this.#loading?.then(({ client }) => client.destroy()).catch(() => undefined);
  }
}

/** `s3://bucket/prefix/` → its parts; the prefix is '' or ends with '/'. Undefined if not an s3 URL. */
export function parseS3Home(home: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(home);
  if (!m?.[1]) return undefined;
  return { bucket: m[1], prefix: normalizePrefix(m[2] ?? '') };
}

/** '' stays ''; anything else gets exactly one trailing '/' and no leading '/'. */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' ? '' : `${p}/`;
}

export const isS3Home = (home: string): boolean => home.startsWith('s3://');
