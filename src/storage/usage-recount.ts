// A user's quota usage counted again from what is stored, while the user's uploads and deletes go
// on (on other workers or nodes): `ferry users rescan`, and the server after a crash.
import type { Usage, UsageLedger } from './quota.js';

/** A ledger that can store a recount (usage.json and PostgreSQL can). */
export type RecountLedger = Pick<UsageLedger, 'get' | 'add'> & Required<Pick<UsageLedger, 'replace'>>;

export const recountable = (l: UsageLedger | undefined): l is UsageLedger & RecountLedger =>
  l?.replace !== undefined;

export interface Recount {
  /** The record before (undefined: there was none). */
  before: Usage | undefined;
  after: Usage;
  /** The record changed during every scan (see recountUsage): it may be off by those changes. */
  unsettled: boolean;
}

/**
 * Stores `scan()` as `username`'s usage, unless the record changed while it scanned (a change that
 * landed then may or may not have been seen, and is in the record either way): then it scans
 * again, up to `tries` times. After the last, it adds to the record what the scan found beyond the
 * record it started from (`unsettled`): the record then holds the scan plus every change made
 * during it, which counts twice a change in a part the scan had not walked yet (errs towards
 * refusing: the next recount settles it), where storing the scan would lose a change in a part it
 * had walked (an upload never counted: a quota passed).
 * What it cannot tell: a change on disk whose record comes after the store (an upload renamed into
 * place while the scan listed its directory, its record written a moment later) counts twice.
 */
export async function recountUsage(
  ledger: RecountLedger,
  username: string,
  scan: () => Promise<Usage>,
  tries = 3,
): Promise<Recount> {
  return (await recount(ledger, username, scan, tries, false)) as Recount;
}

/**
 * recountUsage for a user with a record only (undefined when there is none, or it was dropped
 * meanwhile: the next upload counts then): the server's recounts, which must not store a count of
 * a tree that `ferry users set` just changed.
 */
export function recountRecorded(
  ledger: RecountLedger,
  username: string,
  scan: () => Promise<Usage>,
  tries = 3,
): Promise<Recount | undefined> {
  return recount(ledger, username, scan, tries, true);
}

async function recount(
  ledger: RecountLedger,
  username: string,
  scan: () => Promise<Usage>,
  tries: number,
  recordedOnly: boolean,
): Promise<Recount | undefined> {
  let first: Usage | undefined | 'unread' = 'unread';
  for (let attempt = 1; ; attempt++) {
    const from = await ledger.get(username);
    if (from === undefined && recordedOnly) return undefined;
    if (first === 'unread') first = from;
    const after = await scan();
    if (await ledger.replace(username, from, after)) return { before: first, after, unsettled: false };
    if (attempt >= tries) {
      // One atomic step (usage.json's lock, one UPDATE): no change is lost between read and write.
      // From no record: one appeared during the scan, a count of its own, kept.
      if (from !== undefined) {
        await ledger.add(username, { bytes: after.bytes - from.bytes, files: after.files - from.files });
      }
      const now = await ledger.get(username);
      if (now !== undefined) return { before: first, after: now, unsettled: true };
      // Dropped meanwhile (ferry users set, rm): the server counts at next use; a rescan stores.
      if (recordedOnly) return undefined;
      await ledger.replace(username, undefined, after);
      return { before: first, after, unsettled: true };
    }
  }
}
