import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, type Principal } from '../../auth/types.js';
import { Code, type NamedCode } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { command, type AnyCommandSpec, type CommandContext, type Outcome } from './types.js';

/** Failed logins slow down, then disconnect: brute force costs time and connections. */
const FAILURE_DELAY_MS = 300;

/** The session joins its user's sessions (maxSessions) and is logged in; or the login fails. */
async function completeLogin(
  ctx: CommandContext,
  username: string,
  principal: Principal,
  ok: { code: NamedCode; text: string; how: string },
): Promise<Outcome> {
  const { session, options, logger } = ctx;
  if (!(await ctx.enterSession(principal))) {
    return loginFailed(ctx, username, `too many sessions (maxSessions ${principal.maxSessions})`);
  }
  session.loginSucceeded(principal, options.storageFor(principal));
  logger.info({ user: username, by: ok.how }, 'login');
  return reply(ok.code, ok.text);
}

/** The same reply whatever the reason (no user enumeration), after a growing delay; the log says why. */
async function loginFailed(ctx: CommandContext, username: string, reason: string): Promise<Outcome> {
  const { session, options, logger } = ctx;
  const failures = session.loginFailed();
  logger.warn({ user: username, failures, reason }, 'login failed');
  await sleep(FAILURE_DELAY_MS * Math.min(failures, 5));
  if (failures >= options.limits.maxLoginFailures) {
    return {
      reply: reply(Code.ServiceNotAvailable, 'Too many failed logins, closing.'),
      after: 'close',
    };
  }
  return reply(Code.NotLoggedIn, 'Login incorrect.');
}

export const accessCommands: AnyCommandSpec[] = [
  command({
    verb: 'USER',
    access: 'login',
    concurrency: 'serial',
    help: 'USER <sp> username',
    async handle({ username }, ctx) {
      const { session, options, logger } = ctx;
      if (session.loggedIn) return reply(Code.BadSequence, 'Already logged in; use REIN to change user.');
      session.userGiven(username);
      const certificate = ctx.clientCertificate();
      if (certificate && options.authenticator.authenticateByCertificate) {
        const outcome = await options.authenticator.authenticateByCertificate(
          { username, clientCertificate: certificate, remoteAddress: session.remoteAddress, tls: ctx.secure },
          AbortSignal.timeout(30_000),
        );
        if (outcome.ok) {
          return completeLogin(ctx, username, outcome.principal, {
            code: Code.LoggedInBySecurityExchange,
            text: 'User logged in, authorized by security data exchange.',
            how: 'certificate',
          });
        }
        // Not by certificate alone: the password is asked for, as for anyone (PASS says why not).
        logger.debug({ user: username, reason: outcome.reason }, 'no certificate login');
      }
      return reply(Code.NeedPassword, `Password required for ${username}.`);
    },
  }),
  command({
    verb: 'PASS',
    access: 'login',
    concurrency: 'serial',
    help: 'PASS <sp> password',
    async handle({ password }, ctx) {
      const { session, options } = ctx;
      if (session.login.phase === 'in') return reply(Code.NotImplementedSuperfluous, 'Already logged in.');
      if (session.login.phase !== 'user') return reply(Code.BadSequence, 'Send USER first.');
      const username = session.login.username;
      const clientCertificate = ctx.clientCertificate();
      const outcome = await options.authenticator.authenticate(
        {
          username,
          password: new Secret(password),
          remoteAddress: session.remoteAddress,
          tls: ctx.secure,
          ...(clientCertificate && { clientCertificate }),
        },
        AbortSignal.timeout(30_000),
      );
      if (!outcome.ok) return loginFailed(ctx, username, outcome.reason);
      return completeLogin(ctx, username, outcome.principal, {
        code: Code.LoggedIn,
        text: 'Login successful.',
        how: clientCertificate ? 'password (client certificate presented)' : 'password',
      });
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
