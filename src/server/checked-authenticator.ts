import type { AuthOutcome, Authenticator } from '../auth/types.js';
import type { Logger } from '../logger.js';
import { outcomeFault, principalFault, thrown } from './embedder-values.js';

const PRINCIPAL =
  'a Principal has username and home strings, readOnly a boolean, and its other fields as its type says';

type Check<C extends { username: string }> = (c: C, signal: AbortSignal) => Promise<AuthOutcome>;

/**
 * `inner`'s answer, unless it threw, rejected or gave a malformed outcome: that is the
 * authenticator's failure, not the client's, so "accounts unavailable" (PASS: 421, as RFC 959 gives
 * PASS no 451; USER: the password asked for), the cause logged. A rejection once its signal aborted
 * is the check dropped (the client gone, a shutdown, the time limit): passed on as before.
 */
function checked<C extends { username: string }>(method: string, inner: Check<C>, logger: Logger): Check<C> {
  return async (c, signal) => {
    const failed = (why: string, err?: unknown): AuthOutcome => {
      const reason = `options.authenticator: ${method}() ${why}`;
      logger.error({ user: c.username, ...(err instanceof Error && { err }) }, reason);
      return { ok: false, unavailable: true, reason };
    };
    let pending: Promise<AuthOutcome>;
    try {
      pending = inner(c, signal); // a non-async authenticate may throw here
    } catch (err) {
      return failed(`threw ${thrown(err)}`, err);
    }
    let outcome: AuthOutcome;
    try {
      outcome = await pending;
    } catch (err) {
      if (signal.aborted) throw err;
      return failed(`rejected with ${thrown(err)}`, err);
    }
    const fault = outcomeFault(outcome);
    return fault ? failed(`gave ${fault} (${PRINCIPAL})`) : outcome;
  };
}

/**
 * The configured authenticator with its answers checked (see embedder-values.ts). An account change
 * that brings a malformed principal ends that account's sessions, as its removal would: they must
 * not go on with settings no one can read.
 */
export function checkedAuthenticator(inner: Authenticator, logger: Logger): Authenticator {
  const byCertificate = inner.authenticateByCertificate?.bind(inner);
  const watch = inner.watch?.bind(inner);
  return {
    authenticate: checked('authenticate', (c, signal) => inner.authenticate(c, signal), logger),
    ...(byCertificate && {
      authenticateByCertificate: checked('authenticateByCertificate', byCertificate, logger),
    }),
    ...(watch && {
      watch: (listener) =>
        watch((name, p, gone) => {
          const fault = p === undefined ? undefined : principalFault(p);
          if (fault) {
            const why = `options.authenticator: an account change gave ${fault} (${PRINCIPAL})`;
            logger.error({ user: name }, `${why}: the account's sessions end`);
          }
          listener(name, fault ? undefined : p, gone);
        }),
    }),
  };
}
