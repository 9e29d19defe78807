import type { MirrorResult } from '../client/mirror.js';
import { humanBytes } from './client-progress.js';

/** The lines `ferry mirror` ends with: what was (or, in a dry run, would be) done. */

/** The last line of `mirror`: what was (or, in a dry run, would be) done. */
export function mirrorSummary(r: MirrorResult, dryRun: boolean): string {
  const skipped =
    r.unchanged > 0 ? `${r.skipped} skipped (${r.unchanged} unchanged)` : `${r.skipped} skipped`;
  return dryRun
    ? `Would transfer ${r.transferred} file(s), ${humanBytes(r.bytes)}; would delete ${r.deleted}; ${skipped}.`
    : `Transferred ${r.transferred} file(s), ${humanBytes(r.bytes)}; ${r.deleted} deleted, ${skipped}.`;
}

/** The line `mirror --verify` prints before its summary: how files of the same size were compared. */
export function verifySummary(r: MirrorResult): string {
  if (r.verifiedBy !== undefined)
    return `Compared ${r.verified} file(s) of the same size by ${r.verifiedBy}.`;
  if (r.checksum === undefined)
    return 'The server offers no checksum (HASH, XSHA256, MD5): compared size and time.';
  if (r.verified === 0)
    return `No file has the same size on both sides: nothing to compare by ${r.checksum}.`;
  return `${r.checksum} gave no checksum for the ${r.verified} file(s) of the same size: compared size and time.`;
}

/** What a mirror did, counted from its events: what the summary of one that failed says. */
export interface MirrorTally {
  /** The files to transfer; undefined until the trees were compared. */
  planned: number | undefined;
  /** Files transferred (in a dry run: that would be). */
  transferred: number;
  bytes: number;
  /** Files that failed. */
  failed: number;
  /** The bytes that moved for them before they failed (not in `bytes`). */
  failedBytes: number;
  /** Remote directories the server would not list (or listed only in part). */
  unlisted: number;
  /** Destination entries of another type in the way, left alone (no --delete): no file of `planned`. */
  conflicts: number;
  /** Directories the destination refused to make (nothing under them tried). */
  unmade: number;
  /** Files never tried: the connection was lost for good (said once, not as failures). */
  unsent: number;
  deleted: number;
}

/** How the mirror ran and ended. */
export interface MirrorEnd {
  readonly interrupted: boolean;
  readonly dryRun: boolean;
  /** --delete was asked for. */
  readonly delete: boolean;
}

/**
 * The last line of a mirror that did not finish, as a batch's: what was done, what failed (files,
 * and directories the server would not list), and, with --delete, that the extras were kept (a
 * mirror that fails deletes none). Undefined for a failure before the trees were compared (its
 * error says it all).
 */
export function unfinishedMirrorSummary(t: MirrorTally, end: MirrorEnd): string | undefined {
  if (t.planned === undefined)
    return end.interrupted
      ? `Interrupted while comparing the trees: no file transferred${t.deleted > 0 ? `, ${t.deleted} deleted` : ''}.`
      : undefined;
  const moved = t.failedBytes > 0 ? ` after moving ${humanBytes(t.failedBytes)}` : '';
  const failed = t.failed > 0 ? `; ${t.failed} failed${moved}` : '';
  const unlisted =
    (t.unlisted > 0 ? `; ${t.unlisted} ${t.unlisted === 1 ? 'directory' : 'directories'} not listed` : '') +
    (t.conflicts > 0 ? `; ${t.conflicts} type ${t.conflicts === 1 ? 'conflict' : 'conflicts'}` : '') +
    (t.unmade > 0 ? `; ${t.unmade} ${t.unmade === 1 ? 'directory' : 'directories'} not made` : '');
  const heldBack =
    end.delete && !end.interrupted && t.failed + t.unlisted + t.conflicts + t.unmade + t.unsent > 0
      ? ' (deletions held back by the failure)'
      : '';
  const bytes = humanBytes(t.bytes);
  if (end.dryRun)
    return `Would transfer ${t.transferred} file(s), ${bytes}${unlisted}; would delete ${t.deleted}${heldBack}.`;
  const notDone = t.planned - t.transferred - t.failed;
  const rest = end.interrupted
    ? `; interrupted: ${notDone} not transferred`
    : t.unsent > 0
      ? `; connection lost: ${notDone} not transferred`
      : notDone > 0
        ? `; ${notDone} not transferred`
        : '';
  return `Transferred ${t.transferred} of ${t.planned} file(s), ${bytes}${failed}${unlisted}; ${t.deleted} deleted${heldBack}${rest}.`;
}
