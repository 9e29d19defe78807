import { FerryError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
/** Ten years: longer is a typo (and far past any Date arithmetic worry). */
const MAX_SECONDS = 3650 * 86_400;

/** `--for`: `90` or `90s`, `30m`, `12h`, `7d`, `2w`; milliseconds. */
export function parseBanDuration(text: string): number {
  const m = /^(\d+)([smhdw]?)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] ?? 1) : NaN;
  if (!(seconds > 0 && seconds <= MAX_SECONDS))
    throw new FerryError(
      'ERR_USAGE',
      `--for: expected a duration such as 30m, 12h, 7d or 3600 (seconds; at most 3650d), got "${text}".`,
    );
  return seconds * 1000;
}
