/**
 * A listing entry's modification time shown as exactly as the server told it: LIST gives a day
 * (`Mar  4 2020`) or a minute (`Mar  4 12:34`), MLSD a second. `ferry ls` prints no digits the
 * server did not send, and `--json` says the precision beside the full ISO time.
 */

/** How exact `modified` is (`--json`'s `modifiedPrecision`). */
export type TimePrecision = 'second' | 'minute' | 'day';

/** The precision of `modifiedPrecisionMs` (RemoteEntry); null when the server gave no time. */
export function timePrecision(precisionMs: number): TimePrecision | null {
  if (!Number.isFinite(precisionMs)) return null;
  if (precisionMs <= 1000) return 'second';
  return precisionMs <= 60_000 ? 'minute' : 'day';
}

/** The time for `ferry ls`'s column (16 wide): `2020-03-04 12:34`, `2020-03-04` or `-`. */
export function formatModified(modified: Date, precisionMs: number): string {
  const precision = timePrecision(precisionMs);
  if (modified.getTime() === 0 || precision === null) return '-'.padStart(16);
  const iso = modified.toISOString();
  return precision === 'day' ? iso.slice(0, 10).padEnd(16) : iso.slice(0, 16).replace('T', ' ');
}
