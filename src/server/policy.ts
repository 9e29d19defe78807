import { hasRulesBelow, permissionsAt, type Permission } from '../auth/permissions.js';
import { Code } from '../protocol/codes.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { VPath } from '../storage/types.js';
import type { CommandContext, CommandSpec, UserFiles } from './commands/types.js';

/**
 * The one place access rules live; handlers never re-check them. Returns the refusal, or undefined
 * when the command may run. `need` is checked at `target` (a client path, relative to the cwd;
 * undefined = the cwd itself).
 */
export async function refusal(
  spec: Pick<CommandSpec, 'verb' | 'access' | 'data'>,
  need: Permission | undefined,
  target: string | undefined,
  ctx: CommandContext,
): Promise<Reply | undefined> {
  const { session, options } = ctx;
  if (spec.access === 'login' && !ctx.secure && !options.allowPlainControl) {
    return reply(Code.NotLoggedIn, 'TLS is required: send AUTH TLS (or AUTH SSL) before logging in.');
  }
  if (spec.access === 'logged-in' && !session.loggedIn) {
    return reply(Code.NotLoggedIn, 'Please log in with USER and PASS.');
  }
  if (need && session.login.phase === 'in') {
    const files = ctx.files();
    const path = target === undefined ? session.cwd : await files.resolve(target);
    const held = permissionsAt(session.login.principal, path);
    // Upload onto an existing file is an overwrite; the stat is spared when both are held anyway.
    const upload = need === 'upload' && target !== undefined;
    const needed =
      upload && !(held.has('upload') && held.has('overwrite')) && (await isFile(path, ctx))
        ? 'overwrite'
        : need;
    if (!held.has(needed)) {
      // info, as transfers are: a logged-in user's own action (warnings are rate-limited per address).
      ctx.logger.info(
        { user: session.login.principal.username, command: spec.verb, path, permission: needed },
        'permission denied',
      );
      return reply(Code.FileUnavailable, `Permission denied: ${needed}`);
    }
  }
  if (spec.data && session.prot !== 'P' && !options.allowClearData) {
    // Without TLS on the control connection (allowPlainControl) PBSZ and PROT are refused: say so.
    const how = ctx.secure
      ? 'send PBSZ 0 and PROT P.'
      : 'this connection has no TLS (send AUTH TLS, then PBSZ 0 and PROT P).';
    return reply(Code.PolicyRequiresProtection, `Data connections must be protected: ${how}`);
  }
  return undefined;
}

/**
 * `ctx` for a command that needs `need`: where a symbolic link leads one of its paths elsewhere in
 * the tree, the storage asks, and `need` must be held there too (as ProFTPD applies its rules to the
 * resolved path), besides at the path as given (refusal). A path without links costs nothing more.
 */
export function guarded(ctx: CommandContext, verb: string, need: Permission): CommandContext {
  const denies = (resolved: VPath, replacing?: 'file' | 'dir'): Permission | undefined => {
    const login = ctx.session.login;
    if (login.phase !== 'in') return need;
    const held = permissionsAt(login.principal, resolved);
    // RNFR through a link moves the directory it resolves to: one with rules below stays, as
    // at its own path (files.ts).
    const protectedTree = verb === 'RNFR' && hasRulesBelow(login.principal, resolved);
    const missing = neededAt(need, replacing).find((x) => !held.has(x)) ?? (protectedTree ? need : undefined);
    if (missing === undefined) return undefined;
    ctx.logger.info(
      { user: login.principal.username, command: verb, path: resolved, permission: missing },
      'permission denied (through a link)',
    );
    return missing;
  };
  // Asked by every write onto no file, so it logs nothing: the refusal (denies) does.
  const mayReplace = (resolved: VPath): boolean => {
    const login = ctx.session.login;
    return (
      login.phase === 'in' &&
      neededAt(need, 'file').every((x) => permissionsAt(login.principal, resolved).has(x))
    );
  };
  const files = (): UserFiles => {
    const f = ctx.files();
    return { ...f, context: (signal) => ({ ...f.context(signal), denies, mayReplace }) };
  };
  return { ...ctx, files };
}

/** Replacing a file is an overwrite; a rename onto a directory replaces it, which needs rmdir. */
function neededAt(need: Permission, replacing: 'file' | 'dir' | undefined): Permission[] {
  if (replacing === undefined) return [need];
  if (need === 'upload') return ['overwrite'];
  if (need === 'rename') return ['rename', replacing === 'dir' ? 'rmdir' : 'overwrite'];
  return [need];
}

/** Uploading onto an existing file replaces (or extends) it: that needs `overwrite`, not `upload`. */
async function isFile(path: VPath, ctx: CommandContext): Promise<boolean> {
  const files = ctx.files();
  try {
    return (await files.storage.stat(path, files.context())).type !== 'dir';
  } catch {
    return false; // not there (or not reachable: the handler reports that)
  }
}
