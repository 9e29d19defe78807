// S3 failures → StorageError kinds (errors.ts maps the kinds to replies). The SDK has already
// retried throttling, 5xx and dropped connections with backoff (S3Connection's maxAttempts).
import { FerryError, StorageError } from '../errors.js';
import { storageError } from './fs-errors.js';

const notFound = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const denied = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);
/** The gateway refuses to store more: a quota (radosgw: 403), or an object past its size limit. */
export const overLimit = new Set(['QuotaExceeded', 'EntityTooLarge']);

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}

/** Names the SDK gives to credentials the gateway does not accept. */
const badCredentials = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
]);

/**
 * What is wrong with the credentials, when the SDK's error says so: none were found (the provider
 * chain's CredentialsProviderError), or the gateway refused them. Follows `cause` (a StorageError
 * made by mapS3Error, wrapped again). Never the credentials themselves.
 */
export function credentialsProblem(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e.name === 'CredentialsProviderError') return `no S3 credentials found (${e.message})`;
    if (badCredentials.has(e.name)) return `the S3 credentials were refused (${e.name})`;
  }
  return undefined;
}

/** True when the request never got an HTTP answer (connection refused or reset, DNS, timeout). */
export function isNetworkError(err: unknown): boolean {
  return err instanceof Error && !(err instanceof FerryError) && statusOf(err) === undefined;
}

/** A conditional request's refusal (If-Match, If-None-Match): 412. */
export function preconditionFailed(err: unknown): boolean {
  return err instanceof Error && (err.name === 'PreconditionFailed' || statusOf(err) === 412);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof Error && (notFound.has(err.name) || statusOf(err) === 404);
}

/**
 * A StorageError naming `p` (a virtual path or a bucket), never the endpoint or the key. A gateway
 * that cannot be reached or went away is 'unavailable' (451 and a warn line), in a transfer too,
 * like an S3 answer that stayed 5xx or SlowDown after the retries: only an abort (the client's, or
 * its session's end) is ERR_ABORTED (426).
 */
export function mapS3Error(err: unknown, op: string, p: string): FerryError {
  if (err instanceof FerryError) return err;
  const name = err instanceof Error ? err.name : '';
  const status = statusOf(err);
  if (name === 'AbortError')
    return new FerryError('ERR_ABORTED', 'Storage operation aborted.', { cause: err });
  if (notFound.has(name) || status === 404) return storageError('not-found', op, p, err);
  const credentials = credentialsProblem(err);
  if (credentials && status === undefined)
    return new StorageError('unavailable', `${op} ${p}: storage unavailable: ${credentials}`, { cause: err });
  if (credentials)
    return new StorageError('permission-denied', `${op} ${p}: permission denied: ${credentials}`, {
      cause: err,
    });
  // The gateway's own limits (a bucket or user quota, radosgw's QuotaExceeded, is a 403): 552, which
  // clients do not retry, and not read as a credentials problem.
  if (overLimit.has(name)) return storageError('quota-exceeded', op, p, err);
  // A HEAD's 403 has no body to say why: the credentials, or a bucket they may not use.
  if (denied.has(name) || status === 403)
    return new StorageError(
      'permission-denied',
      `${op} ${p}: permission denied (${name || 'HTTP'} 403: the credentials are invalid or may not use it)`,
      { cause: err },
    );
  // A conditional request (If-Match, CopySourceIfMatch): the object changed meanwhile (transient: 451 after the 150).
  if (preconditionFailed(err)) return storageError('transient', op, p, err);
  if (name === 'KeyTooLongError') return storageError('name-not-allowed', op, p, err);
  // Another 4xx: the gateway refuses this request as it is, and retrying will not change that
  // (not 451 "try again later"). The reply names the S3 error, not the endpoint or the key.
  if (status !== undefined && status >= 400 && status < 500)
    return new StorageError('refused', `${op} ${p}: refused by the storage (${name || 'HTTP'} ${status}).`, {
      cause: err,
    });
  return storageError('unavailable', op, p, err);
}
