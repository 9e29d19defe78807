import { Code } from '../../protocol/codes.js';
import { formatTimeVal, parseTimeVal } from '../../protocol/listing.js';
import { parseChmodMode } from '../../protocol/mode.js';
import { reply } from '../../protocol/reply.js';
import { StorageError } from '../../storage/types.js';
import { parentOf } from '../../storage/virtual-path.js';
import type { CommandContext, CommandSpec } from './types.js';

/** RFC 959 257 replies quote the path and double any quote inside it. */
const quoted = (p: string): string => `"${p.replace(/"/g, '""')}"`;

async function changeDir(arg: string, ctx: CommandContext) {
  const p = ctx.resolve(arg);
  const st = await ctx.storage().stat(p, ctx.storageContext());
  if (st.type !== 'dir') throw new StorageError('not-directory', 'Not a directory.');
  ctx.session.cwd = p;
  return reply(Code.FileActionOk, `Directory changed to ${p}.`);
}

const needsArg = (verb: string) => reply(Code.SyntaxErrorArgs, `${verb} needs a path.`);

export const fileCommands: CommandSpec[] = [
  {
    verb: 'PWD',
    aliases: ['XPWD'],
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PWD',
    async handle(_arg, { session }) {
      return reply(Code.PathCreated, `${quoted(session.cwd)} is the current directory.`);
    },
  },
  {
    verb: 'CWD',
    aliases: ['XCWD'],
    access: 'logged-in',
    concurrency: 'serial',
    help: 'CWD <sp> path',
    async handle(arg, ctx) {
      return changeDir(arg.length === 0 ? '/' : arg, ctx);
    },
  },
  {
    verb: 'CDUP',
    aliases: ['XCUP'],
    access: 'logged-in',
    concurrency: 'serial',
    help: 'CDUP',
    async handle(_arg, ctx) {
      return changeDir(parentOf(ctx.session.cwd), ctx);
    },
  },
  {
    verb: 'MKD',
    permission: 'mkdir',
    aliases: ['XMKD'],
    access: 'logged-in',
    concurrency: 'serial',
    help: 'MKD <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('MKD');
      const p = ctx.resolve(arg);
      await ctx.storage().mkdir(p, ctx.storageContext());
      return reply(Code.PathCreated, `${quoted(p)} created.`);
    },
  },
  {
    verb: 'RMD',
    permission: 'rmdir',
    aliases: ['XRMD'],
    access: 'logged-in',
    concurrency: 'serial',
    help: 'RMD <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('RMD');
      await ctx.storage().removeDir(ctx.resolve(arg), ctx.storageContext());
      return reply(Code.FileActionOk, 'Directory removed.');
    },
  },
  {
    verb: 'DELE',
    permission: 'delete',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'DELE <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('DELE');
      await ctx.storage().remove(ctx.resolve(arg), ctx.storageContext());
      return reply(Code.FileActionOk, 'File deleted.');
    },
  },
  {
    verb: 'RNFR',
    access: 'logged-in',
    permission: 'rename',
    concurrency: 'serial',
    help: 'RNFR <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('RNFR');
      const p = ctx.resolve(arg);
      await ctx.storage().stat(p, ctx.storageContext());
      ctx.session.setRenameFrom(p);
      return reply(Code.PendingFurtherInfo, 'Ready for RNTO.');
    },
  },
  {
    verb: 'RNTO',
    access: 'logged-in',
    permission: 'rename',
    concurrency: 'serial',
    help: 'RNTO <sp> path',
    async handle(arg, ctx) {
      const from = ctx.oneShot.renameFrom;
      if (!from) return reply(Code.BadSequence, 'Send RNFR first.');
      if (arg.length === 0) return needsArg('RNTO');
      await ctx.storage().rename(from, ctx.resolve(arg), ctx.storageContext());
      return reply(Code.FileActionOk, 'Rename successful.');
    },
  },
  {
    verb: 'SIZE',
    access: 'logged-in',
    permission: 'list',
    concurrency: 'serial',
    feat: () => 'SIZE',
    help: 'SIZE <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('SIZE');
      const st = await ctx.storage().stat(ctx.resolve(arg), ctx.storageContext());
      if (st.type === 'dir') return reply(Code.FileUnavailable, 'Not a plain file.');
      return reply(Code.FileStatus, String(st.size));
    },
  },
  {
    verb: 'MDTM',
    access: 'logged-in',
    permission: 'list',
    concurrency: 'serial',
    feat: () => 'MDTM',
    help: 'MDTM <sp> path',
    async handle(arg, ctx) {
      if (arg.length === 0) return needsArg('MDTM');
      const st = await ctx.storage().stat(ctx.resolve(arg), ctx.storageContext());
      if (st.type === 'dir') return reply(Code.FileUnavailable, 'Not a plain file.');
      return reply(Code.FileStatus, formatTimeVal(st.modified));
    },
  },
  {
    verb: 'MFMT',
    permission: 'overwrite',
    access: 'logged-in',
    concurrency: 'serial',
    feat: () => 'MFMT',
    help: 'MFMT <sp> YYYYMMDDHHMMSS <sp> path',
    async handle(arg, ctx) {
      const space = arg.indexOf(' ');
      const date = space > 0 ? parseTimeVal(arg.slice(0, space)) : undefined;
      if (!date || space < 0) return reply(Code.SyntaxErrorArgs, 'MFMT needs YYYYMMDDHHMMSS and a path.');
      const storage = ctx.storage();
      if (!storage.setModified) throw new StorageError('unsupported', 'Cannot set times.');
      const p = ctx.resolve(arg.slice(space + 1));
      await storage.setModified(p, date, ctx.storageContext());
      return reply(Code.FileStatus, `Modify=${formatTimeVal(date)}; ${arg.slice(space + 1)}`);
    },
  },
  {
    verb: 'SITE',
    access: 'logged-in',
    permission: (arg) => (/^chmod(?: |$)/i.test(arg) ? 'chmod' : undefined),
    concurrency: 'serial',
    help: 'SITE <sp> CHMOD mode path | HELP',
    async handle(arg, ctx) {
      const [sub = '', modeText = '', ...rest] = arg.split(' ');
      switch (sub.toUpperCase()) {
        case 'HELP':
          return reply(Code.Help, 'SITE commands: CHMOD <mode> <path>, HELP.');
        case 'CHMOD': {
          const mode = parseChmodMode(modeText);
          const target = rest.join(' ');
          if (mode === undefined || target.length === 0)
            return reply(Code.SyntaxErrorArgs, 'SITE CHMOD needs an octal mode and a path.');
          const storage = ctx.storage();
          if (!storage.chmod) throw new StorageError('unsupported', 'CHMOD not supported.');
          // Only permission bits: setuid/setgid/sticky are not the client's to set.
          await storage.chmod(ctx.resolve(target), mode & 0o777, ctx.storageContext());
          return reply(Code.Ok, 'SITE CHMOD successful.');
        }
        default:
          return reply(Code.NotImplementedForParam, `SITE ${sub} not supported.`);
      }
    },
  },
];
