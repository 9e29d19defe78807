import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Code } from '../../protocol/codes.js';
import {
  listLineFormatter,
  mlsxFormatter,
  formatMlstFeat,
  formatNlstLine,
  DEFAULT_MLST_FACTS,
} from '../../protocol/listing.js';
import { reply } from '../../protocol/reply.js';
import { listingPermFact } from '../capabilities.js';
import { StorageError, type FileStat, type VPath } from '../../storage/types.js';
import { listingChunks } from './listing-chunks.js';
import { command, type AnyCommandSpec, type CommandContext, type CommandSpec } from './types.js';

const LS_OPTIONS = /^-[A-Za-z1]+(?: +|$)/;

/**
 * What LIST/NLST/STAT show: `LIST -la dir` is common, so a leading ls-style option word is
 * dropped, unless a file by that exact name exists.
 */
async function target(arg: string, ctx: CommandContext): Promise<{ path: VPath; stat: FileStat }> {
  const flags = LS_OPTIONS.exec(arg);
  if (!flags) return plainTarget(arg, ctx);
  try {
    return await plainTarget(arg, ctx);
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'not-found')
      return plainTarget(arg.slice(flags[0].length), ctx);
    throw err;
  }
}

/** The path a listing argument names, for the permission check (`-la dir` → `dir`). */
const withoutOptions = (arg: string): string => arg.replace(LS_OPTIONS, '');

async function* entries(
  ctx: CommandContext,
  path: VPath,
  stat: FileStat,
): AsyncGenerator<readonly FileStat[]> {
  if (stat.type !== 'dir') {
    yield [stat];
    return;
  }
  const files = ctx.files();
  yield* files.storage.list(path, files.context());
}

/** MLSx lines for one listing (MLST: of one entry, named by its path). */
function mlsxLines(ctx: CommandContext): (st: FileStat, name?: string) => string {
  const format = mlsxFormatter(ctx.session.mlstFacts);
  const perm = listingPermFact(ctx.session.login);
  return (st, name = st.name) =>
    format(name === st.name ? st : { ...st, name }, { perm: perm(st), unique: st.id });
}

function listingCommand<V extends 'LIST' | 'NLST' | 'MLSD'>(
  verb: V,
  /** The formatter of one listing (it may cache per listing). */
  formatter: (ctx: CommandContext, now: Date) => (st: FileStat) => string,
): CommandSpec<V> {
  return {
    verb,
    access: 'logged-in',
    permission: 'list',
    target: ({ path }) => withoutOptions(path),
    concurrency: 'serial',
    data: true,
    feat: verb === 'MLSD' ? () => `MLST ${formatMlstFeat(DEFAULT_MLST_FACTS)}` : undefined,
    help: `${verb} [<sp> path]`,
    async handle({ path: arg }, ctx) {
      const { path, stat } = verb === 'MLSD' ? await plainTarget(arg, ctx) : await target(arg, ctx);
      if (verb === 'MLSD' && stat.type !== 'dir')
        return reply(Code.SyntaxErrorArgs, 'MLSD needs a directory; use MLST.');
      const now = new Date();
      return ctx.transfer.run(verb, 'Here comes the directory listing.', async (sock, t) => {
        const out = Readable.from(listingChunks(entries(ctx, path, stat), formatter(ctx, now)), {
          highWaterMark: 2,
        });
        out.on('data', (c: Buffer) => t.count(c.length));
        await pipeline(out, sock.stream, { signal: t.signal });
      });
    },
  };
}

async function plainTarget(arg: string, ctx: CommandContext): Promise<{ path: VPath; stat: FileStat }> {
  const files = ctx.files();
  const path = files.resolve(arg.length === 0 ? '.' : arg);
  return { path, stat: await files.storage.stat(path, files.context()) };
}

export const listingCommands: AnyCommandSpec[] = [
  listingCommand('LIST', (_ctx, now) => {
    const line = listLineFormatter(now);
    return (st) => line(st);
  }),
  listingCommand('NLST', () => (st) => formatNlstLine(st)),
  listingCommand('MLSD', (ctx) => mlsxLines(ctx)),
  command({
    verb: 'MLST',
    access: 'logged-in',
    permission: 'list',
    target: ({ path }) => path,
    concurrency: 'serial',
    help: 'MLST [<sp> path]',
    async handle({ path: arg }, ctx) {
      const { path, stat } = await plainTarget(arg, ctx);
      return reply(Code.FileActionOk, `Listing ${path}`, ` ${mlsxLines(ctx)(stat, path)}`, 'End.');
    },
  }),
  command({
    verb: 'STAT',
    access: 'anyone',
    permission: ({ path }) => (path.length > 0 ? 'list' : undefined),
    target: ({ path }) => withoutOptions(path),
    concurrency: 'out-of-band',
    help: 'STAT [<sp> path]',
    async handle({ path: arg }, ctx) {
      const t = ctx.transfer.active;
      if (t) return reply(Code.SystemStatus, `${t.command} in progress: ${t.bytes} bytes transferred.`);
      if (arg.length === 0 || !ctx.session.loggedIn) {
        const s = ctx.session;
        const who = s.login.phase === 'in' ? `Logged in as ${s.login.principal.username}` : 'Not logged in';
        return reply(
          Code.SystemStatus,
          'Ferry FTPS server status:',
          `Connected to ${s.remoteAddress}`,
          who,
          `Control connection: ${ctx.secure ? 'TLS' : 'clear'}; data protection: ${s.prot === 'P' ? 'private' : 'clear'}`,
          `TYPE: ${s.type === 'A' ? 'ASCII' : 'BINARY'}; STRUcture: File; transfer MODE: Stream`,
          'End of status.',
        );
      }
      const { path, stat } = await target(arg, ctx);
      const now = new Date();
      const line = listLineFormatter(now);
      const lines: string[] = [];
      for await (const batch of entries(ctx, path, stat)) for (const st of batch) lines.push(line(st));
      const code = stat.type === 'dir' ? Code.DirectoryStatus : Code.FileStatus;
      return reply(code, `Status of ${path}:`, ...lines, 'End of status.');
    },
  }),
];
