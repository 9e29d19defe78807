import type { AuthOutcome, Authenticator } from '../auth/types.js';
import type { Logger } from '../logger.js';
import { outcomeFault, principalFault } from './embedder-values.js';
import { OptionError } from './options.js';

const PRINCIPAL =
  'a Principal has username and home strings, readOnly a boolean, and its other fields as its type says';

/** `outcome`, unless it is malformed: then the authenticator's error (451 and a log line), never a login. */
function checked(method: string, outcome: AuthOutcome): AuthOutcome {
  const fault = outcomeFault(outcome);
  if (fault) throw new OptionError('authenticator', `${method}() gave ${fault} (${PRINCIPAL}).`);
  return outcome;
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
    authenticate: async (c, signal) => checked('authenticate', await inner.authenticate(c, signal)),
    ...(byCertificate && {
      authenticateByCertificate: async (c, signal) =>
        checked('authenticateByCertificate', await byCertificate(c, signal)),
    }),
    ...(watch && {
      watch: (listener) =>
        watch((name, p) => {
          const fault = p === undefined ? undefined : principalFault(p);
          if (fault) {
            const why = `options.authenticator: an account change gave ${fault} (${PRINCIPAL})`;
            logger.error({ user: name }, `${why}: the account's sessions end`);
          }
          listener(name, fault ? undefined : p);
        }),
    }),
  };
}
