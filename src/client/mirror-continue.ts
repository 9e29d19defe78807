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

/** Why a smaller destination file was not continued (a `note`). */
export const NOT_CONTINUED = {
  time: "not continued (-c): its time is not after the source's, so it is another version rather than a cut transfer; sent whole",
  prefix: "not continued (-c): its checksum is not that of the source's first bytes; sent whole",
} as const;
