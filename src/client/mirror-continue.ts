/**
 * `mirror -c`: whether a destination file smaller than the source is a cut transfer of THIS source
 * (continued: only the rest travels) or another version of the file (sent whole). Appending the
 * new file's tail to an older version would leave a corrupt file that the next mirror, finding the
 * size and the time it was given, calls unchanged.
 */

/** A file's size and time as the mirror compares them (mirror.ts's Item). */
export interface SizedTime {
  /** null: not reported. */
  readonly size: number | null;
  /** The time, cut to `precision` (a listing's minute or day: its start). */
  readonly mtime: number;
  /** How exact `mtime` is, in ms (Infinity: unknown). */
  readonly precision: number;
}

/** Whether `dst` could hold the first bytes of `src` at all: both sized, not empty, smaller. */
export function smallerPart(src: SizedTime, dst: SizedTime): boolean {
  return src.size !== null && dst.size !== null && dst.size > 0 && dst.size < src.size;
}

/**
 * lftp's rule (MirrorJob.cc): a cut transfer carries the time it was cut, after the source was last
 * changed; a completed older version carries the older source time the last mirror gave it (or the
 * time it was sent, before the source was changed again). So the destination must be newer than the
 * source beyond both times' precision; unknown or undecidable times continue nothing.
 */
export function cutAfterSource(src: SizedTime, dst: SizedTime): boolean {
  if (!Number.isFinite(src.precision) || !Number.isFinite(dst.precision)) return false;
  // The source's latest possible time is before the destination's earliest one.
  return dst.mtime >= src.mtime + src.precision;
}

/**
 * Without a checksum, how many of the destination's last bytes are compared with the source's at
 * the same offsets before it is continued: a time newer than the source's is no proof (a rollback
 * to an older, larger version that kept its time, a destination copy edited, clocks apart).
 */
export const TAIL_BYTES = 64 * 1024;

/** The destination's last bytes to compare: at most TAIL_BYTES, ending where it ends. */
export function tailRange(dstSize: number): { readonly start: number; readonly length: number } {
  const length = Math.min(TAIL_BYTES, dstSize);
  return { start: dstSize - length, length };
}

/** Why a smaller destination file was not continued (a `note`). */
export const NOT_CONTINUED = {
  time: "not continued (-c): its time is not after the source's, so it is another version rather than a cut transfer; sent whole",
  prefix: "not continued (-c): its checksum is not that of the source's first bytes; sent whole",
  tail: "not continued (-c): its last bytes are not the source's at the same offsets, so it is another version; sent whole",
} as const;

/** A continued file's `note`: what showed its bytes are the source's start. */
export const CONTINUED = {
  prefix: "continued (-c): its checksum is that of the source's first bytes",
  tail: "continued (-c): newer than the source, and its last bytes are the source's at the same offsets",
} as const;
