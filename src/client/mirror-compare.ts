/**
 * The mirror's file comparison beyond size and listed time (mirror.ts's needsTransfer): what a
 * listing cannot decide, and `--size-only`.
 */
import type { SizedTime } from './mirror-continue.js';

/**
 * Whether the listing cannot tell a same-size file from a changed one: the sizes are equal, the
 * times agree within the listing's precision, and that precision is coarser than a second (LIST's
 * minute, or vsftpd's day for an older file). A file changed within that minute since the last
 * mirror looks unchanged; the remote time to the second (MDTM) decides.
 */
export function timeUndecided(src: SizedTime, dst: SizedTime): boolean {
  if (src.size === null || src.size !== dst.size) return false;
  const coarse = Math.max(src.precision, dst.precision);
  return Number.isFinite(coarse) && coarse > 1000;
}

/**
 * `--size-only` (rsync's): files of the same size are the same, whatever their times (a fresh
 * checkout's new times send nothing again). Undefined when a size is unknown: times decide then.
 */
export function sameSize(src: SizedTime, dst: SizedTime): boolean | undefined {
  if (src.size === null || dst.size === null) return undefined;
  return src.size === dst.size;
}

/**
 * Whether to ask MDTM: FEAT lists it (RFC 3659), or the server lists no features at all (an
 * RFC 959 server may have MDTM, which is older than FEAT; a refusal just tells nothing).
 */
export function mayAskMdtm(features: ReadonlyMap<string, string>): boolean {
  return features.has('MDTM') || features.size === 0;
}

/** The note of a run where the server tells no time to the second (once per run). */
export const NO_MDTM =
  'the server has no MDTM: same-size files within their listed minute are sent again; --size-only skips them';
