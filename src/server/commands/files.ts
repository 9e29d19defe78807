import type { Readable } from 'node:stream';
import { networkAsciiSize } from '../../protocol/ascii.js';
import { Code } from '../../protocol/codes.js';
import type { SiteArg } from '../../protocol/command.js';
import { formatHashFeat, formatHashReply } from '../../protocol/hash.js';
import { formatTimeVal } from '../../protocol/listing.js';
import { formatOctalMode } from '../../protocol/mode.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { SIZE_WITHHELD_CODE, SIZE_WITHHELD_TEXT } from '../../protocol/resume-refused.js';
import { capabilitiesOf, supports } from '../capabilities.js';
import { countedChunks, hashStream } from '../file-hash.js';
import { StorageError, fileOf, type FileStat, type StorageContext, type VPath } from '../../storage/types.js';
import { hasRulesBelow, permits, type Permission } from '../../auth/permissions.js';
import { parentOf } from '../../storage/virtual-path.js';
import { guarded, refusal } from '../policy.js';
import { sizeWithheld } from '../withheld-size.js';
import { command, type AnyCommandSpec, type CommandContext, type TreeChange } from './types.js';

/** The largest file whose TYPE A size SIZE counts (it reads the file to count its bare LFs). */
export const ASCII_SIZE_MAX = 16 * 1024 * 1024;
const ASCII_SIZE_REFUSED = `SIZE not counted in TYPE A (ASCII) for a file over ${ASCII_SIZE_MAX >> 20} MiB: send TYPE I for its size in bytes.`;

/** RFC 959 257 replies quote the path and double any quote inside it. */
const quoted = (p: string): string => `"${p.replace(/"/g, '""')}"`;

/**
 * A rename onto an existing file replaces it: that needs `overwrite` there, as a STOR onto it does
 * (a drop box that refuses overwrites must refuse this too); onto an existing directory, `rmdir`.
 */
async function replaceNeeds(to: VPath, ctx: CommandContext): Promise<Permission | undefined> {
  const login = ctx.session.login;
  if (login.phase !== 'in') return undefined;
  const { principal } = login;
  // Most users may do both: no lookup of the target then.
  if (permits(principal, 'overwrite', to) && permits(principal, 'rmdir', to)) return undefined;
  const files = ctx.files();
  const existing = await files.storage.stat(to, entryContext(ctx)).catch((err: unknown) => {
    if (err instanceof StorageError && err.kind === 'not-found') return undefined;
    throw err;
  });
  if (!existing) return undefined;
  const need = existing.type === 'dir' ? 'rmdir' : 'overwrite';
  return permits(principal, need, to) ? undefined : need;
}

/** For the entry a rename acts on: a link is renamed or replaced, not its target (as rename(2)). */
function entryContext(ctx: CommandContext): StorageContext {
  return { ...ctx.files().context(), entryItself: true };
}

const MDTM_ACCESS = { verb: 'MDTM', access: 'logged-in' } as const;

/** MDTM's answer: a plain file's modification time. */
function timeReply(st: FileStat): Reply {
  if (st.type === 'dir') return reply(Code.FileUnavailable, 'Not a plain file.');
  return reply(Code.FileStatus, formatTimeVal(st.modified));
}

/**
 * `path` resolved for a change to the tree, noted (with what the client gave until it resolves) for
 * the audit line the dispatcher logs with the reply.
 */
async function changing(ctx: CommandContext, action: TreeChange['action'], path: string): Promise<VPath> {
  Object.assign(ctx.change, { action, path });
  const p = await ctx.files().resolve(path);
  ctx.change.path = p;
  return p;
}

/** MFMT, and MDTM's set-form: sets the time, replies with the one the file got. */
async function setModified(modified: Date, path: string, ctx: CommandContext) {
  Object.assign(ctx.change, { action: 'set-time', path, modified: modified.toISOString() });
  const storage = ctx.files().storage;
  if (!supports(storage, 'set-modified') || !storage.setModified)
    throw new StorageError('unsupported', 'Cannot set times.');
  const p = await changing(ctx, 'set-time', path);
  await storage.setModified(p, modified, ctx.files().context());
  // The time the file now has: a filesystem may store another (ext4 caps it at 2446).
  const st = await storage.stat(p, ctx.files().context());
  return reply(Code.FileStatus, `Modify=${formatTimeVal(st.modified)}; ${path}`);
}

async function changeDir(path: string, ctx: CommandContext) {
  const files = ctx.files();
  const p = await files.resolve(path);
  const st = await files.storage.stat(p, files.context());
  if (st.type !== 'dir') throw new StorageError('not-directory', 'Not a directory.');
  // Entered, it could be neither listed nor used (vsftpd's chdir refuses it too).
  if (st.access !== undefined && (st.access & 1) === 0)
    throw new StorageError('permission-denied', 'Permission denied.');
  ctx.session.changeDir(p);
  return reply(Code.FileActionOk, `Directory changed to ${p}.`);
}

/**
 * SITE's subcommands and their syntax: SITE's own help, and HELP SITE <subcommand>. Not the data-set
 * attributes, which only get 202 here.
 */
export const SITE_SYNTAX: Readonly<Record<Exclude<SiteArg['name'], 'DATASET'>, string>> = {
  CHMOD: 'SITE <sp> CHMOD <sp> mode <sp> path',
  HELP: 'SITE <sp> HELP',
};

export const fileCommands: AnyCommandSpec[] = [
  command({
    verb: 'PWD',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'PWD',
    async handle(_cmd, { session }) {
      return reply(Code.PathCreated, `${quoted(session.cwd)} is the current directory.`);
    },
  }),
  command({
    verb: 'CWD',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'CWD <sp> path',
    async handle({ path }, ctx) {
      return changeDir(path, ctx);
    },
  }),
  command({
    verb: 'CDUP',
    access: 'logged-in',
    concurrency: 'serial',
    help: 'CDUP',
    async handle(_cmd, ctx) {
      return changeDir(parentOf(ctx.session.cwd), ctx);
    },
  }),
  command({
    verb: 'MKD',
    permission: 'mkdir',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'MKD <sp> path',
    async handle({ path }, ctx) {
      const p = await changing(ctx, 'mkdir', path);
      await ctx.files().storage.mkdir(p, ctx.files().context());
      return reply(Code.PathCreated, `${quoted(p)} created.`);
    },
  }),
  command({
    verb: 'RMD',
    permission: 'rmdir',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'RMD <sp> path',
    async handle({ path }, ctx) {
      await ctx.files().storage.removeDir(await changing(ctx, 'rmdir', path), ctx.files().context());
      return reply(Code.FileActionOk, 'Directory removed.');
    },
  }),
  command({
    verb: 'DELE',
    permission: 'delete',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    help: 'DELE <sp> path',
    async handle({ path }, ctx) {
      await ctx.files().storage.remove(await changing(ctx, 'delete', path), ctx.files().context());
      return reply(Code.FileActionOk, 'File deleted.');
    },
  }),
  command({
    verb: 'RNFR',
    access: 'logged-in',
    permission: 'rename',
    target: ({ path }) => path,
    concurrency: 'serial',
    help: 'RNFR <sp> path',
    async handle({ path }, ctx) {
      const p = await ctx.files().resolve(path);
      // Refused here, at the first command of the pair, like a missing permission.
      if (p === '/') throw new StorageError('permission-denied', 'The root directory cannot be renamed.');
      const st = await ctx.files().storage.stat(p, entryContext(ctx));
      if (st.mount)
        throw new StorageError('mount-point', `${p} is (or holds) a virtual folder: it cannot be renamed.`);
      const login = ctx.session.login;
      if (st.type === 'dir' && login.phase === 'in' && hasRulesBelow(login.principal, p))
        return reply(
          Code.FileUnavailable,
          `Permission denied: ${p} holds paths with permissions of their own.`,
        );
      ctx.session.setRenameFrom(p);
      return reply(Code.PendingFurtherInfo, 'Ready for RNTO.');
    },
  }),
  command({
    verb: 'RNTO',
    access: 'logged-in',
    permission: 'rename',
    target: ({ path }) => path,
    concurrency: 'serial',
    help: 'RNTO <sp> path',
    async handle({ path }, ctx) {
      const from = ctx.oneShot.renameFrom;
      if (!from) return reply(Code.BadSequence, 'Send RNFR first.');
      ctx.change.from = from;
      const to = await changing(ctx, 'rename', path);
      const missing = await replaceNeeds(to, ctx);
      if (missing) return reply(Code.FileUnavailable, `Permission denied: ${missing}`);
      // A client that leaves meanwhile (or times out its reply) would find a directory half renamed.
      const files = ctx.files();
      await ctx.outlivingClient((signal) => files.storage.rename(from, to, files.context(signal)));
      return reply(Code.FileActionOk, 'Rename successful.');
    },
  }),
  command({
    verb: 'SIZE',
    access: 'logged-in',
    permission: 'list',
    target: ({ path }) => path,
    concurrency: 'serial',
    feat: () => 'SIZE',
    help: 'SIZE <sp> path',
    async handle({ path }, ctx) {
      const files = ctx.files();
      const p = await files.resolve(path);
      const st = fileOf(await files.storage.stat(p, files.context()));
      if (!st) return reply(Code.FileUnavailable, 'Not a plain file.');
      if (await sizeWithheld(ctx.cutUploads, files.principal, p, st))
        return reply(SIZE_WITHHELD_CODE, SIZE_WITHHELD_TEXT);
      if (ctx.session.type === 'I' || st.size === 0) return reply(Code.FileStatus, String(st.size));
      // A larger file would be read whole at every SIZE: 550 (RFC 3659 4.2, for a size whose
      // processing overhead is too great; ProFTPD and pyftpdlib refuse SIZE under TYPE A for any file).
      if (st.size > ASCII_SIZE_MAX) return reply(Code.FileUnavailable, ASCII_SIZE_REFUSED);
      // TYPE A: the bytes a RETR would send, counted by reading the file as HASH does (ABOR stops it).
      return ctx.transfer.runLocal('SIZE', async (t) => {
        const src = await files.storage.openRead(p, { offset: 0 }, files.context(t.signal));
        try {
          return reply(Code.FileStatus, String(await networkAsciiSize(countedChunks(src, t))));
        } finally {
          src.destroy();
        }
      });
    },
  }),
  command({
    verb: 'HASH',
    access: 'logged-in',
    permission: 'download',
    target: ({ path }) => path,
    concurrency: 'serial',
    feat: ({ can, hashAlgorithm, hash }) =>
      hash && can(undefined, 'download') ? formatHashFeat(hashAlgorithm) : undefined,
    help: 'HASH <sp> path (draft-bryan-ftpext-hash; OPTS HASH selects SHA-256, SHA-512, SHA-1, MD5 or CRC32)',
    async handle({ path }, ctx) {
      const files = ctx.files();
      if (files.principal.hash === false) return reply(Code.NotImplemented, 'HASH is off for this account.');
      const p = await files.resolve(path);
      const st = fileOf(await files.storage.stat(p, files.context()));
      if (!st) return reply(Code.FileUnavailable, 'Not a plain file.');
      const { hashMaxSize } = ctx.options.limits;
      if (hashMaxSize > 0 && st.size > hashMaxSize)
        return reply(Code.FileUnavailable, `File too large to hash (over ${hashMaxSize} bytes).`);
      const algorithm = ctx.session.hashAlgorithm;
      // A large file takes minutes to read: ABOR stops it, as it stops a transfer. Reads are a
      // budget shared by all: it waits its turn first (ABOR, QUIT and the time limit end the wait).
      return ctx.transfer.runLocal('HASH', async (t) => {
        const user = files.principal.username;
        const turn = ctx.hashTurns.take(user, t.signal, {
          waiting: () => ctx.logger.debug({ user, path }, 'HASH waits for its turn'),
          moved: () => files.context().progress?.(),
        });
        const slot = await t.waitTurn(turn);
        let src: Readable | undefined;
        try {
          src = await files.storage.openRead(p, { offset: 0 }, files.context(t.signal));
          // Each chunk read moves the HASHes waiting for a slot too.
          const reading = { signal: t.signal, count: (n: number) => (t.count(n), slot.read()) };
          const hex = await hashStream(algorithm, src, reading);
          return reply(Code.FileStatus, formatHashReply(algorithm, st.size, hex, path));
        } finally {
          src?.destroy();
          slot.release();
        }
      });
    },
  }),
  command({
    verb: 'MDTM',
    access: 'logged-in',
    // The set-form's permission depends on what it names: checked in the handler.
    permission: ({ modified }) => (modified ? undefined : 'list'),
    target: ({ path }) => path,
    concurrency: 'serial',
    feat: () => 'MDTM',
    help: 'MDTM <sp> path | MDTM <sp> YYYYMMDDHHMMSS <sp> path (sets it, as MFMT)',
    async handle({ path, modified, whole }, ctx) {
      const files = ctx.files();
      if (modified && whole !== undefined) {
        // A file by the whole name ("20200101120000 x.txt", whose time curl -R and lftp ask) is
        // read: a question must never change another file's time.
        const reading = guarded(ctx, 'MDTM', 'list').files();
        const named = await reading.storage
          .stat(await reading.resolve(whole), reading.context())
          .catch((err: unknown) => {
            if (err instanceof StorageError && err.kind === 'not-found') return undefined;
            throw err;
          });
        // Reading needs what MDTM needs; the set-form changes the file as MFMT does, so needs what it needs.
        const denied = await refusal(MDTM_ACCESS, named ? 'list' : 'overwrite', named ? whole : path, ctx);
        if (denied) return denied;
        return named ? timeReply(named) : setModified(modified, path, guarded(ctx, 'MDTM', 'overwrite'));
      }
      return timeReply(await files.storage.stat(await files.resolve(path), files.context()));
    },
  }),
  command({
    verb: 'MFMT',
    permission: 'overwrite',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    feat: ({ can }) => (can('set-modified', 'overwrite') ? 'MFMT' : undefined),
    help: 'MFMT <sp> YYYYMMDDHHMMSS <sp> path',
    async handle({ modified, path }, ctx) {
      return setModified(modified, path, ctx);
    },
  }),
  command({
    verb: 'SITE',
    access: 'logged-in',
    permission: ({ site }) => (site.name === 'CHMOD' ? 'chmod' : undefined),
    target: ({ site }) => (site.name === 'CHMOD' ? site.path : undefined),
    concurrency: 'serial',
    help: Object.values(SITE_SYNTAX).join(' | '),
    async handle({ site }, ctx) {
      switch (site.name) {
        case 'HELP':
          return capabilitiesOf(ctx.session.login)('chmod', 'chmod')
            ? reply(Code.Help, 'SITE commands: CHMOD <mode> <path>, HELP.')
            : reply(Code.Help, 'SITE commands: HELP.');
        case 'DATASET':
          return reply(
            Code.NotImplementedSuperfluous,
            `SITE ${site.attributes}: not needed here; files are byte streams, with no data-set attributes.`,
          );
        case 'CHMOD': {
          const set = site.mode & 0o777;
          Object.assign(ctx.change, { action: 'chmod', path: site.path, mode: formatOctalMode(set) });
          const storage = ctx.files().storage;
          if (!supports(storage, 'chmod') || !storage.chmod)
            throw new StorageError('unsupported', 'CHMOD not supported.');
          // Only permission bits: setuid/setgid/sticky are not the client's to set (vsftpd's rule too);
          // the reply says so, as a client asking for them would otherwise believe they are set.
          await storage.chmod(await changing(ctx, 'chmod', site.path), set, ctx.files().context());
          if (set === site.mode) return reply(Code.Ok, 'SITE CHMOD successful.');
          return reply(
            Code.Ok,
            `SITE CHMOD: mode set to ${formatOctalMode(set)}; setuid, setgid and sticky bits are not set by this server.`,
          );
        }
      }
    },
  }),
];
