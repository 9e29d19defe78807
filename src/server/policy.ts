import { permits, type Permission } from '../auth/permissions.js';
import { Code } from '../protocol/codes.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { CommandContext, CommandSpec } from './commands/types.js';

/**
 * The one place access rules live; handlers never re-check them. Returns the refusal, or undefined
 * when the command may run.
 */
export function refusal(
  spec: Pick<CommandSpec, 'access' | 'data'>,
  need: Permission | undefined,
  ctx: CommandContext,
): Reply | undefined {
  const { session, options } = ctx;
  if (spec.access === 'login' && !ctx.secure && !options.allowPlainControl) {
    return reply(Code.NotLoggedIn, 'TLS is required: send AUTH TLS (or AUTH SSL) before logging in.');
  }
  if (spec.access === 'logged-in' && !session.loggedIn) {
    return reply(Code.NotLoggedIn, 'Please log in with USER and PASS.');
  }
  if (need && session.login.phase === 'in' && !permits(session.login.principal, need)) {
    return reply(Code.FileUnavailable, 'Permission denied.');
  }
  if (spec.data && session.prot !== 'P' && !options.allowClearData) {
    return reply(
      Code.PolicyRequiresProtection,
      'Data connections must be protected: send PBSZ 0 and PROT P.',
    );
  }
  return undefined;
}
