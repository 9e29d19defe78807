import type { Reply } from '../../protocol/reply.js';
import { isNegative, isPositiveCompletion } from '../../protocol/reply.js';
import {
  NotCompletedError,
  ProbeConnection,
  brief,
  droppedBeforeTls,
  stoppedAnswering,
  unavailable,
  type OpenOptions,
  type ProbeTarget,
} from './connection.js';
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
  /** PBSZ 0 and PROT P on the first session (explicit FTPS), as the report's `pbsz-prot-p` point. */
  readonly protPoint: ProbePoint;
}

/**
 * A logged-in session ready for protected data connections, as a careful client sets it up:
 * PBSZ 0 and PROT P (refusals are fine on implicit FTPS, where they are implied), and TYPE I.
 * Once PBSZ/PROT were refused (explicit), the checks that need protected data are not completed.
 */
export async function protectedSession(t: ProbeTarget, o: OpenOptions = {}): Promise<ProbeConnection> {
  const st = t.state;
  if (t.security === 'explicit' && st.protRefused !== undefined && st.refused === undefined)
    st.stop(st.protRefused);
  const c = await ProbeConnection.open(t, o);
  if (t.security !== 'none') {
    try {
      const pbsz = await c.request('PBSZ 0');
      const prot = await c.request('PROT P');
      if (t.security === 'explicit' && !(isPositiveCompletion(pbsz) && isPositiveCompletion(prot))) {
        const why = `PBSZ 0 / PROT P refused: ${brief(pbsz)} / ${brief(prot)}`;
        if (st.started) {
          st.protRefused ??= why;
          st.stop(st.protRefused);
        }
        throw new Error(why);
      }
      await c.request('TYPE I'); // the write checks compare bytes
    } catch (err) {
      c.destroy();
      throw err;
    }
  }
  return c;
}

/**
 * A check that could not run to the end: the error is what came back, and the point fails. An error
 * of the probe's own (an argument it cannot send, a bug: RangeError, TypeError) says nothing of the
 * server: that point is not completed, with the error as why.
 */
export function errored(id: string, title: string, sent: string, err: unknown): ProbePoint {
  if (err instanceof RangeError || err instanceof TypeError)
    return notCompleted(id, title, sent, `the probe could not do this check: ${shortError(err)}`);
  return point(id, title, sent, shortError(err), 'fail', 'the check could not complete');
}

export function notApplicable(id: string, title: string, why: string): ProbePoint {
  return point(id, title, '-', '-', 'not-applicable', why);
}

/** A command that a conformant server refuses: negative reply → pass, positive → fail. */
export function refusal(r: Reply): Verdict {
  return isNegative(r) ? 'pass' : 'fail';
}

/** A check that could not be done (see ProbeState): no verdict on the server. */
export function notCompleted(id: string, title: string, sent: string, why: string): ProbePoint {
  return point(id, title, sent, '-', 'not-completed', why);
}

/**
 * Runs one check; an exception becomes a failed point with the error as what came back. When the
 * server refused the probe or stopped answering (before or during the check), or the check needed a
 * login or protected data that the server refused, the point is not completed instead, whatever the
 * check concluded from the refusal or the silence.
 */
export async function check(
  t: ProbeTarget,
  id: string,
  title: string,
  sent: string,
  fn: () => Promise<ProbePoint>,
): Promise<ProbePoint> {
  const st = t.state;
  if (st.refused !== undefined) return notCompleted(id, title, sent, st.refused);
  const stops = st.stops;
  const began = Date.now();
  let p: ProbePoint;
  try {
    p = await fn();
  } catch (err) {
    if (!(err instanceof NotCompletedError) && st.started && droppedBeforeTls(err)) {
      // A connection broken or refused mid-check: judge the server only if it still lets us in.
      const why = await unavailable(t);
      if (why !== undefined) st.refused ??= why;
      if (st.refused !== undefined) return notCompleted(id, title, sent, st.refused);
    }
    p =
      err instanceof NotCompletedError
        ? notCompleted(id, title, sent, err.why)
        : errored(id, title, sent, err);
  }
  if (st.stops > stops) return notCompleted(id, title, sent, st.lastStop);
  if (p.verdict !== 'not-completed' && Date.now() - began >= t.timeoutMs) {
    // It waited out a timeout: for a reply the server holds back (a verdict), or from a server
    // that stopped answering altogether (no verdict: its silence reads as refusals)? A new
    // connection tells. Only silence counts here: a refusal now says nothing of the check.
    const why = await unavailable(t);
    if (stoppedAnswering(why)) return notCompleted(id, title, sent, (st.refused ??= why));
  }
  return p;
}
