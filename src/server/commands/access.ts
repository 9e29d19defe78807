import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, type Principal } from '../../auth/types.js';
import { StorageError, type StorageBackend } from '../../storage/types.js';
import { Code, type NamedCode } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { TOO_MANY_UNAUTHENTICATED } from '../admission.js';
import { causeOf } from '../storage-warnings.js';
import { checkHome } from '../home-checks.js';
import { thrown } from '../embedder-values.js';
import { OptionError } from '../options.js';
import { command, type AnyCommandSpec, type CommandContext, type Outcome } from './types.js';

/**
 * Runs an authenticator's check with a signal that aborts once the client is gone, or after 30 s.
 * The timer goes with the check (an AbortSignal.timeout per login would live its 30 s).
 */
async function checked<T>(ctx: CommandContext, check: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const gone = (): void => ac.abort(ctx.disconnected.reason);
  if (ctx.disconnected.aborted) gone();
  else ctx.disconnected.addEventListener('abort', gone, { once: true });
  const timer = setTimeout(() => ac.abort(new DOMException('The check timed out.', 'TimeoutError')), 30_000);
  try {
    return await check(ac.signal);
  } finally {
    clearTimeout(timer);
    ctx.disconnected.removeEventListener('abort', gone);
  }
}

/** Failed logins slow down, then disconnect: brute force costs time and connections. */
const FAILURE_DELAY_MS = 300;

/**
 * The session joins its user's sessions (maxSessions) and is logged in; or `refused` answers with
 * the reason.
 */
async function completeLogin(
  ctx: CommandContext,
  username: string,
  principal: Principal,
  ok: { code: NamedCode; text: string; how: string; detail?: object },
  refused: (reason: string, text?: string) => Promise<Outcome>,
): Promise<Outcome> {
  const { session, options, logger } = ctx;
  // A home that cannot be used refuses the login (as vsftpd and ProFTPD do), rather than a 230 and
  // then 550 for every command: its S3 bucket missing at start or reload, a local home missing.
  let storage: StorageBackend;
  try {
    storage = options.storageFor(principal);
  } catch (err) {
    // A home refused (its S3 bucket unusable since the start or the last reload): as checkHome's.
    if (err instanceof StorageError) return refused(homeUnusable(err), 'Home directory unavailable.');
    // The embedder's storageFor failed (threw, or returned no storage): no home can be given now.
    const reason = err instanceof OptionError ? err.message : `options.storageFor threw ${thrown(err)}`;
    logger.error({ user: username, ...(err instanceof Error && { err }) }, reason);
    return accountsUnavailable(ctx, username, reason);
  }
  try {
    await checkHome(ctx.homeChecks, storage, principal.home, {
      sessionId: session.id,
      signal: ctx.disconnected,
    });
  } catch (err) {
    if (ctx.disconnected.aborted) throw err; // the client left: no one to answer
    // The host path is in the cause: in the log line, never in the reply. A plain error (an
    // embedder's checkRoot) refuses the home as a StorageError does (RFC 959: PASS has no 451).
    return refused(homeUnusable(err), 'Home directory unavailable.');
  }
  if (!(await ctx.enterSession(principal))) return tooManySessions(ctx, username, principal);
  session.loginSucceeded(principal, storage);
  ctx.metrics.logins.inc({ result: principal.anonymous ? 'anonymous' : 'success' });
  // Anonymous: the name typed (anonymous, FTP…) beside the session's; the password is never logged.
  if (principal.anonymous)
    logger.info({ user: principal.username, as: username, by: 'anonymous' }, 'anonymous login');
  else logger.info({ user: username, by: ok.how, ...ok.detail }, 'login');
  return reply(ok.code, ok.text);
}

/** The log's reason for a home refused: the host path is in the cause, never in the reply. */
function homeUnusable(err: unknown): string {
  const cause = err instanceof Error ? causeOf(err) : undefined;
  const what = err instanceof StorageError ? err.message : `checkRoot() rejected with ${thrown(err)}`;
  return `home unusable: ${what}${cause ? ` (${cause})` : ''}`;
}

/**
 * Not the client's fault (the accounts or its home cannot be reached, the embedder's authenticator
 * or storageFor failed): no failure counted; it may try again (another node, or later). Every such
 * refusal waits as a failed login does: its timing does not tell a wrong password for a cached user
 * (scored by the defender) from a name that is not cached.
 */
async function accountsUnavailable(ctx: CommandContext, username: string, reason: string): Promise<Outcome> {
  ctx.logger.warn({ user: username, reason }, 'login not possible now');
  await sleep(FAILURE_DELAY_MS, undefined, { signal: ctx.disconnected }).catch(() => {});
  return {
    reply: reply(Code.ServiceNotAvailable, 'Accounts unavailable, try again later.'),
    after: 'close',
  };
}

/**
 * The credentials were right, so the reason is told (only their owner sees it): a 530 makes
 * FileZilla report "Authentication failed", drop the transfer and ask for the password again, while
 * a 421 is a temporary refusal FileZilla and lftp retry after a delay (as for vsftpd's and
 * Pure-FTPd's limits). Not a failed login: neither counted nor delayed, no `login failed` line.
 */
function tooManySessions(ctx: CommandContext, username: string, principal: Principal): Outcome {
  const limit = principal.maxSessions;
  ctx.logger.warn(
    { user: username, reason: `too many sessions (maxSessions ${limit})` },
    principal.anonymous ? 'anonymous login refused' : 'login refused',
  );
  const most = limit === undefined ? '' : ` (at most ${limit})`;
  return {
    reply: reply(Code.ServiceNotAvailable, `Too many sessions for this user${most}, try later.`),
    after: 'close',
  };
}

/**
 * The same reply whatever the reason (no user enumeration), after a growing delay; the log says why.
 * `text`: another reply, for a reason told only after the password was right (an unusable home).
 * `anonymous`: an anonymous login refused (allowFrom): not a failed login (the log
 * line is not the one fail2ban counts). `unknownUser`: no such account, told apart from a wrong
 * password in the log only (an administrator sees a mistyped or guessed name; the client does not).
 */
async function loginFailed(
  ctx: CommandContext,
  username: string,
  reason: string,
  o: { text?: string; anonymous?: boolean; unknownUser?: boolean } = {},
): Promise<Outcome> {
  const { session, options, logger } = ctx;
  const { text = 'Login incorrect.', anonymous = false } = o;
  ctx.metrics.logins.inc({ result: 'failure' });
  const failures = session.loginFailed();
  logger.warn(
    { user: username, failures, reason, ...(o.unknownUser && { unknownUser: true }) },
    anonymous ? 'anonymous login refused' : 'login failed',
  );
  // Cut short when the client goes: no one is left to answer, and nothing may outlive the session.
  await sleep(FAILURE_DELAY_MS * Math.min(failures, 5), undefined, { signal: ctx.disconnected }).catch(
    () => {},
  );
  if (failures >= options.limits.maxLoginFailures) {
    return {
      reply: reply(Code.ServiceNotAvailable, 'Too many failed logins, closing.'),
      after: 'close',
    };
  }
  return reply(Code.NotLoggedIn, text);
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
      const needPassword = reply(Code.NeedPassword, `Password required for ${username}.`);
      // Not by certificate alone: the password is asked for, as for anyone, even when the
      // certificate was right but a limit refuses the login (PASS then says 530 and logs why).
      const notByCertificate = async (reason: string): Promise<Outcome> => {
        logger.debug({ user: username, reason }, 'no certificate login');
        return needPassword;
      };
      const certificate = ctx.clientCertificate();
      if (certificate && options.authenticator.authenticateByCertificate) {
        const byCertificate = options.authenticator.authenticateByCertificate.bind(options.authenticator);
        const outcome = await checked(ctx, (signal) =>
          byCertificate(
            {
              username,
              clientCertificate: certificate,
              remoteAddress: session.remoteAddress,
              tls: ctx.secure,
            },
            signal,
          ),
        );
        if (!outcome.ok) {
          // Said now: the password may still log the user in, and its line names no certificate.
          if (outcome.certificateRefused)
            logger.warn({ user: username, reason: outcome.reason }, 'client certificate refused');
          return notByCertificate(outcome.reason);
        }
        const ok = {
          code: Code.LoggedInBySecurityExchange,
          text: 'User logged in, authorized by security data exchange.',
          how: 'certificate',
          // Which certificate: an account may pin several, and a CA issues many.
          detail: {
            fingerprint: certificate.fingerprint,
            ...(certificate.subject !== undefined && { subject: certificate.subject }),
          },
        };
        return completeLogin(ctx, username, outcome.principal, ok, notByCertificate);
      }
      return needPassword;
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
      const credentials = {
        username,
        password: new Secret(password),
        remoteAddress: session.remoteAddress,
        tls: ctx.secure,
        ...(clientCertificate && { clientCertificate }),
      };
      const outcome = await checked(ctx, (signal) => options.authenticator.authenticate(credentials, signal));
      if (!outcome.ok && outcome.unavailable) return accountsUnavailable(ctx, username, outcome.reason);
      if (!outcome.ok)
        return loginFailed(ctx, username, outcome.reason, {
          anonymous: outcome.anonymous,
          unknownUser: outcome.unknownUser,
        });
      const ok = {
        code: Code.LoggedIn,
        text: 'Login successful.',
        how: clientCertificate ? 'password (client certificate presented)' : 'password',
      };
      return completeLogin(ctx, username, outcome.principal, ok, (reason, text) =>
        loginFailed(ctx, username, reason, { text, anonymous: outcome.principal.anonymous }),
      );
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
    // RFC 959: a transfer in progress finishes and gets its reply before the 221, and so do the
    // commands sent before QUIT (curl pipelines PASV and QUIT after a failed data connection).
    concurrency: 'last',
    help: 'QUIT',
    onRead(ctx) {
      // A HASH still waiting its turn has not started: it is dropped (426), not waited for.
      const t = ctx.transfer.active;
      if (t?.queued) t.abort();
    },
    async handle() {
      return { reply: reply(Code.Closing, 'Goodbye.'), after: 'close' };
    },
  }),
  command({
    verb: 'REIN',
    access: 'anyone',
    concurrency: 'serial',
    help: 'REIN (log out and start over; on implicit FTPS the TLS session is renegotiated)',
    async handle(_cmd, ctx) {
      // A logged-out session is a connection not logged in again: over the limit it ends, as a new
      // connection over the limit would (RFC 959 allows REIN only 421 for that).
      if (!(await ctx.logOut()))
        return { reply: reply(Code.ServiceNotAvailable, TOO_MANY_UNAUTHENTICATED), after: 'close' };
      return { reply: reply(Code.ServiceReady, 'Service ready for new user.'), after: 'reinitialize' };
    },
  }),
];
