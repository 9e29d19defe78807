import type { Reply } from '../../protocol/reply.js';
import { isNegative, isPositiveCompletion } from '../../protocol/reply.js';
import { ProbeConnection, brief, type OpenOptions, type ProbeTarget } from './connection.js';
import { shortError } from './data.js';
import { point, type ProbePoint, type Verdict } from './types.js';

/** What every check may read: the target, and what the first session learned about the server. */
export interface ProbeContext {
  readonly t: ProbeTarget;
  readonly greeting: Reply;
  /** FEAT of a logged-in session: name (uppercase) → parameters. */
  readonly features: ReadonlyMap<string, string>;
  /** The largest regular file in the login directory (for SIZE, MDTM, HASH, ABOR, STAT). */
  readonly sample: { readonly name: string; readonly size: number } | undefined;
  /** `--write DIR`: the directory the write checks may use (else undefined: no write at all). */
  readonly writeDir: string | undefined;
  /** Notes for the report's `limits`. */
  readonly limits: string[];
}

/**
 * A logged-in session ready for protected data connections, as a careful client sets it up:
 * PBSZ 0 and PROT P (refusals are fine on implicit FTPS, where they are implied), and TYPE I.
 */
export async function protectedSession(t: ProbeTarget, o: OpenOptions = {}): Promise<ProbeConnection> {
  const c = await ProbeConnection.open(t, o);
  if (t.security !== 'none') {
    try {
      const pbsz = await c.request('PBSZ 0');
      const prot = await c.request('PROT P');
      if (t.security === 'explicit' && !(isPositiveCompletion(pbsz) && isPositiveCompletion(prot)))
        throw new Error(`PBSZ 0 / PROT P refused: ${brief(pbsz)} / ${brief(prot)}`);
      await c.request('TYPE I'); // the write checks compare bytes
    } catch (err) {
      c.destroy();
      throw err;
    }
  }
  return c;
}

/** A check that could not run to the end: the error is what came back, and the point fails. */
export function errored(id: string, title: string, sent: string, err: unknown): ProbePoint {
  return point(id, title, sent, shortError(err), 'fail', 'the check could not complete');
}

export function notApplicable(id: string, title: string, why: string): ProbePoint {
  return point(id, title, '-', '-', 'not-applicable', why);
}

/** A command that a conformant server refuses: negative reply → pass, positive → fail. */
export function refusal(r: Reply): Verdict {
  return isNegative(r) ? 'pass' : 'fail';
}

/** Runs one check; an exception becomes a failed point with the error as what came back. */
export async function check(
  id: string,
  title: string,
  sent: string,
  fn: () => Promise<ProbePoint>,
): Promise<ProbePoint> {
  try {
    return await fn();
  } catch (err) {
    return errored(id, title, sent, err);
  }
}
