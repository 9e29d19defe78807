import { StorageError } from '../errors.js';

/** S3's limit on a key: 1,024 bytes of its UTF-8 (AWS and radosgw alike). */
export const MAX_KEY_BYTES = 1024;

/** Whether S3 would refuse `key` for its length. */
export function keyTooLong(key: string): boolean {
  return Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES;
}

/**
 * Refuses a name whose key would pass the limit, before anything is sent for it: the gateway's own
 * refusal is a bare 400 (a HEAD has no body) that says nothing of why. 553 (`limit`).
 */
export function checkKeyLength(key: string): void {
  if (keyTooLong(key))
    throw new StorageError(
      'limit',
      `Name too long for this storage (S3 keys are at most ${MAX_KEY_BYTES} bytes).`,
    );
}
