import { setTimeout as sleep } from 'node:timers/promises';
import { Secret } from '../../auth/types.js';
import { Code } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { command, type AnyCommandSpec } from './types.js';

/** Failed logins slow down, then disconnect: brute force costs time and connections. */
const FAILURE_DELAY_MS = 300;

export const accessCommands: AnyCommandSpec[] = [
  command({
    verb: 'USER',
    access: 'login',
    concurrency: 'serial',
    help: 'USER <sp> username',
    async handle({ username }, { session }) {
      if (session.loggedIn) return reply(Code.BadSequence, 'Already logged in; use REIN to change user.');
      session.userGiven(username);
      return reply(Code.NeedPassword, `Password required for ${username}.`);
    },
  }),
  command({
    verb: 'PASS',
    access: 'login',
    concurrency: 'serial',
    help: 'PASS <sp> password',
    async handle({ password }, ctx) {
      const { session, options, logger } = ctx;
      if (session.login.phase === 'in') return reply(Code.NotImplementedSuperfluous, 'Already logged in.');
      if (session.login.phase !== 'user') return reply(Code.BadSequence, 'Send USER first.');
      const username = session.login.username;
      const outcome = await options.authenticator.authenticate(
        { username, password: new Secret(password), remoteAddress: session.remoteAddress, tls: ctx.secure },
        AbortSignal.timeout(30_000),
      );
      let refused = outcome.ok ? undefined : outcome.reason;
      if (outcome.ok && !(await ctx.enterSession(outcome.principal))) {
        refused = `too many sessions (maxSessions ${outcome.principal.maxSessions})`;
      }
      if (!outcome.ok || refused !== undefined) {
        ctx.metrics.logins.inc({ result: 'failure' });
        const failures = session.loginFailed();
        // The client gets the same reply whatever the reason (no user enumeration); the log the truth.
        logger.warn({ user: username, failures, reason: refused }, 'login failed');
        await sleep(FAILURE_DELAY_MS * Math.min(failures, 5));
        if (failures >= options.limits.maxLoginFailures) {
          return {
            reply: reply(Code.ServiceNotAvailable, 'Too many failed logins, closing.'),
            after: 'close',
          };
        }
        return reply(Code.NotLoggedIn, 'Login incorrect.');
      }
      session.loginSucceeded(outcome.principal, options.storageFor(outcome.principal));
      ctx.metrics.logins.inc({ result: 'success' });
      logger.info({ user: username }, 'login');
      return reply(Code.LoggedIn, 'Login successful.');
    },
  }),
  command({
    verb: 'ACCT',
    access: 'login',
    concurrency: 'serial',
    help: 'ACCT <sp> account',
    async handle() {
      return reply(Code.NotImplementedSuperfluous, 'ACCT not needed.');
    },
  }),
  command({
    verb: 'QUIT',
    access: 'anyone',
    concurrency: 'out-of-band',
    help: 'QUIT',
    async handle(_cmd, ctx) {
      // RFC 959: a transfer in progress finishes and gets its reply before we close.
      await ctx.transfer.active?.done;
      return { reply: reply(Code.Closing, 'Goodbye.'), after: 'close' };
    },
  }),
  command({
    verb: 'REIN',
    access: 'anyone',
    concurrency: 'serial',
    help: 'REIN (log out and start over; on implicit FTPS the TLS session is renegotiated)',
    async handle() {
      return { reply: reply(Code.ServiceReady, 'Service ready for new user.'), after: 'reinitialize' };
    },
  }),
];
