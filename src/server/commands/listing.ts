import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connectionSink } from '../connection-sink.js';
import { Code } from '../../protocol/codes.js';
import {
  listLineFormatter,
  mlsxFormatter,
  formatMlstFeat,
  formatNlstLine,
  DEFAULT_MLST_FACTS,
} from '../../protocol/listing.js';
import { globMatcher, hasWildcard, unquote } from '../../protocol/glob.js';
import { reply } from '../../protocol/reply.js';
import { formatTransferStatus } from '../../protocol/transfer-status.js';
import { FerryError } from '../../errors.js';
import { listingPermFact } from '../capabilities.js';
import { StorageError, type FileStat, type VPath } from '../../storage/types.js';
import { SourceWatch } from '../source-watch.js';
import { sizeWithheld } from '../withheld-size.js';
import {
  AS_STORED,
  BY_NAME,
  HeldEntries,
  listingOrder,
  ordered,
  type ListingOrder,
} from './listing-order.js';
import { orderedChunks } from './ordered-chunks.js';
import { replyCharset } from '../legacy-text.js';
import { command, type AnyCommandSpec, type CommandContext, type CommandSpec } from './types.js';

/** Leading ls-style option words: `-la`, `-l -t`, `--full-time`, `--color=never`. */
const LS_OPTIONS = /^(?:(?:-[A-Za-z1]+|--[A-Za-z][\w-]*(?:=\S*)?)(?: +|$))+/;

/**
 * What LIST/NLST/STAT show: `LIST -la dir` and `LIST --full-time dir` are common, so leading
 * ls-style option words are dropped (as vsftpd, ProFTPD and Pure-FTPd do). Option words alone
 * (`LIST -a`, as WinSCP and lftp send it) always list the directory, as vsftpd and Pure-FTPd do:
 * a file named `-a` there made it list that file alone (it is `./-a`). Followed by more, they are
 * options unless an entry has that exact name. All but `-d` change nothing; `-d` lists the entry
 * itself (below).
 */
async function target(arg: string, ctx: CommandContext): Promise<Listed> {
  const flags = LS_OPTIONS.exec(arg);
  if (!flags) return named(arg, ctx);
  const rest = arg.slice(flags[0].length);
  const asOptions = async (): Promise<Listed> => {
    const l = listsItself(flags[0]) ? await itself(rest, ctx) : await named(rest, ctx);
    return { ...l, ...asked(flags[0]) };
  };
  if (rest === '') return asOptions();
  try {
    return await named(arg, ctx);
  } catch (err) {
    if (!(err instanceof StorageError && err.kind === 'not-found')) throw err;
    return asOptions();
  }
}

/** What the option words ask of the listing besides its target. */
const asked = (flags: string): Pick<Listed, 'all' | 'order'> => ({
  all: listsAll(flags),
  order: listingOrder(flags),
});

/** `-a` or `-A` (`-la`, `--all`, `--almost-all`; `-f`, as GNU ls) among the option words: dot-files too. */
const listsAll = (flags: string): boolean =>
  flags.split(' ').some((w) => w === '--all' || w === '--almost-all' || /^-[^-]*[aAf]/.test(w));

/** `-d` (`-ld`, `-dl`, `--directory`) among the option words. */
const listsItself = (flags: string): boolean =>
  flags.split(' ').some((w) => w === '--directory' || /^-[^-]*d/.test(w));

/**
 * `LIST -d dir`: the entry itself rather than a directory's entries, named as the argument did
 * (`.` for none), as `ls -d`, ProFTPD and Pure-FTPd do: scripts test a directory's existence so.
 */
async function itself(arg: string, ctx: CommandContext): Promise<Listed> {
  const { path, stat } = await plainTarget(arg, ctx);
  return { path, stat, name: arg === '' ? '.' : arg, itself: true };
}

/**
 * NLST names what it lists as the argument did, as vsftpd, ProFTPD and Pure-FTPd do (`mget`
 * fetches those names from the cwd): a file by the argument itself, a directory's entries joined
 * to it (`NLST logs` and `NLST logs/` → `logs/a.gz`); `NLST` and `NLST .` give bare names.
 */
async function named(arg: string, ctx: CommandContext): Promise<Listed> {
  const { path, stat } = await plainTarget(arg, ctx);
  if (stat.type !== 'dir') return { path, stat, name: arg };
  if (arg === '' || arg === '.') return { path, stat };
  return { path, stat, prefix: arg.endsWith('/') ? arg : `${arg}/` };
}

/** A listing argument without its leading option words: `-la dir` → `dir`. */
const withoutOptions = (arg: string): string => arg.replace(LS_OPTIONS, '');

/** The path a listing argument names, for the permission check (`st\*` → `st*`, as `st*` is checked). */
const checkedPath = (arg: string): string => unquote(withoutOptions(arg));

/** What a listing shows: a directory's entries, one file, or a directory's entries matching a pattern. */
interface Listed {
  readonly path: VPath;
  readonly stat: FileStat;
  /** `LIST *.txt`, `NLST logs/*.gz` (what `mget` sends): only these names of the directory. */
  readonly match?: (name: string) => boolean;
  /** NLST names a directory's entries as the argument did: `logs/a.gz` for `logs/*.gz` or `logs`. */
  readonly prefix?: string;
  /** NLST of one file, or LIST/NLST -d of any entry: the argument that named it. */
  readonly name?: string;
  /** `-d`: the entry itself, a directory too (not its entries); LIST names it by `name` then. */
  readonly itself?: boolean;
  /** `-a`: dot-files too, where hideDotFiles would leave them out. */
  readonly all?: boolean;
  /** `-t`, `-S`, `-r`, `-U`: the order asked for (by name if none). */
  readonly order?: ListingOrder;
}

/**
 * A listing argument whose last segment is a pattern (`*`, `?`, `[...]`) and names nothing as it
 * stands: its directory (unquoted), and a matcher for the segment (as vsftpd and ProFTPD expand them).
 */
async function patternTarget(arg: string, ctx: CommandContext): Promise<Listed | undefined> {
  const slash = arg.lastIndexOf('/');
  const pattern = arg.slice(slash + 1);
  if (!hasWildcard(pattern)) return undefined;
  const dir = slash < 0 ? '' : unquote(arg.slice(0, slash + 1));
  const { path, stat } = await plainTarget(dir === '' ? '.' : dir, ctx);
  if (stat.type !== 'dir') return undefined;
  return { path, stat, match: globMatcher(pattern), prefix: dir };
}

/** The listing's target; a pattern when nothing has the argument's name (LIST/NLST). */
async function listed(arg: string, ctx: CommandContext): Promise<Listed> {
  if (arg.includes('\\')) return quoted(arg, ctx);
  try {
    return await target(arg, ctx);
  } catch (err) {
    if (!(err instanceof StorageError && err.kind === 'not-found')) throw err;
    const flags = LS_OPTIONS.exec(arg)?.[0] ?? '';
    const found = await patternTarget(arg.slice(flags.length), ctx);
    if (!found) throw err;
    return { ...found, ...asked(flags) };
  }
}

/**
 * An argument with `\` quoting (`LIST st\*ar*`, `NLST \[abc`): no name holds a backslash
 * (virtual-path.ts), so it is a pattern, or with no wildcard left the name it quotes (`[abc`), which
 * NLST gives back unquoted, for mget to fetch.
 */
async function quoted(arg: string, ctx: CommandContext): Promise<Listed> {
  const flags = LS_OPTIONS.exec(arg)?.[0] ?? '';
  const rest = arg.slice(flags.length);
  const found = await patternTarget(rest, ctx);
  const name = unquote(rest);
  const l = found ?? (listsItself(flags) ? await itself(name, ctx) : await named(name, ctx));
  return { ...l, ...asked(flags) };
}

/**
 * A directory's entries, or the one entry listed, in the storage's order. `dots`: 'hide' leaves out
 * names starting with `.` (hideDotFiles, without `-a`), as vsftpd and ProFTPD do for LIST and NLST.
 */
function entries(
  ctx: CommandContext,
  l: Listed,
  dots: 'show' | 'hide',
  signal?: AbortSignal,
  /** The listing shows names only (NLST, not ordered by time or size): StorageContext.namesOnly. */
  namesOnly = false,
): AsyncGenerator<readonly FileStat[]> {
  if (l.stat.type !== 'dir' || l.itself)
    return (async function* () {
      yield [l.stat];
    })();
  const files = ctx.files();
  const base = files.context();
  const c = {
    ...base,
    ...(signal && { signal: AbortSignal.any([base.signal, signal]) }),
    ...(namesOnly && { namesOnly }),
  };
  const charset = replyCharset(ctx.session, ctx.options);
  const unsent = charset && {
    holds: (name: string) => charset.holds(name),
    told: (count: number) =>
      ctx.logger.debug(
        { dir: l.path, count, encoding: charset.name },
        'listing left out names the legacy encoding cannot hold',
      ),
  };
  return shown(files.storage.list(l.path, c), l, dots === 'hide' && !l.all, c.progress, unsent);
}

/**
 * How a listing in `order` (listing-order.ts; MLSD's is the storage's own) is held to be sorted:
 * within the process's budget, each batch held told to the command time limit and to `held` (nothing
 * is sent meanwhile, yet the listing moves: the data idle timeout).
 */
function holding(ctx: CommandContext, held?: () => void): { budget: HeldEntries; held: () => void } {
  const progress = ctx.files().context().progress;
  return {
    budget: ctx.heldEntries,
    held: () => {
      progress?.();
      held?.();
    },
  };
}

/** The entries of `batches` a listing shows: dot-files hidden (`hide`), a pattern's matches. */
async function* shown(
  batches: AsyncIterable<readonly FileStat[]>,
  { match }: Listed,
  hide: boolean,
  progress: (() => void) | undefined,
  /**
   * A legacy session's: names its set cannot hold are left out (a stand-in `?` could name another
   * file it then fetched or deleted), and how many told once the listing ends.
   */
  legacy?: { holds(name: string): boolean; told(count: number): void },
): AsyncGenerator<readonly FileStat[]> {
  // A plain listing: its batches as the storage makes them (names no client can address already
  // left out, checked-storage.ts).
  if (!match && !hide && !legacy) return yield* batches;
  let unheld = 0;
  const held = (name: string): boolean => legacy?.holds(name) ?? true;
  const isShown = (e: FileStat): boolean =>
    (!hide || !e.name.startsWith('.')) && (!match || match(e.name)) && held(e.name);
  for await (const batch of batches) {
    // A batch all shown (the usual, dot-files hidden or not) goes on as it is: no copy.
    const kept = batch.every(isShown) ? batch : batch.filter(isShown);
    if (legacy && kept !== batch) unheld += batch.filter((e) => !held(e.name)).length;
    if (kept.length > 0) yield kept;
    // Batches with nothing shown still move: the command time limit must not cut them (LIST *.csv).
    else progress?.();
  }
  if (unheld > 0) legacy?.told(unheld);
}

/** Whether LIST, NLST and STAT leave out dot-files for this session (the account's, else the server's). */
function dotFiles(ctx: CommandContext): 'show' | 'hide' {
  const login = ctx.session.login;
  const own = login.phase === 'in' ? login.principal.hideDotFiles : undefined;
  return (own ?? ctx.options.hideDotFiles) ? 'hide' : 'show';
}

/** `ls -l` lines for one listing (LIST, STAT). */
function listLines(now: Date, { itself, name }: Listed): (st: FileStat) => string {
  const line = listLineFormatter(now);
  return itself && name !== undefined ? (st) => line({ ...st, name }) : line;
}

/** MLSx lines for one listing (MLST: of one entry, named by its path), of `facts`. */
function mlsxLines(
  ctx: CommandContext,
  facts: ReadonlySet<string> = ctx.session.mlstFacts,
): (st: FileStat, name?: string) => string {
  const format = mlsxFormatter(facts);
  const perm = listingPermFact(ctx.session.login);
  return (st, name = st.name) =>
    format(name === st.name ? st : { ...st, name }, { perm: perm(st), unique: st.id });
}

function listingCommand<V extends 'LIST' | 'NLST' | 'MLSD'>(
  verb: V,
  /** The formatter of one listing (it may cache per listing). */
  formatter: (ctx: CommandContext, now: Date, l: Listed) => (st: FileStat) => string,
): CommandSpec<V> {
  return {
    verb,
    access: 'logged-in',
    permission: 'list',
    target: ({ path }) => checkedPath(path),
    concurrency: 'serial',
    data: true,
    feat: verb === 'MLSD' ? () => `MLST ${formatMlstFeat(DEFAULT_MLST_FACTS)}` : undefined,
    help: `${verb} [<sp> path]`,
    async handle({ path: arg }, ctx) {
      const l: Listed = verb === 'MLSD' ? await plainTarget(arg, ctx) : await listed(arg, ctx);
      if (verb === 'MLSD' && l.stat.type !== 'dir')
        return reply(Code.SyntaxErrorArgs, 'MLSD needs a directory; use MLST.');
      const now = new Date();
      // The transfer's end stops the storage's listing: a request stuck on a frozen gateway is
      // aborted, so the listing (closed below) cannot hold the reply until the gateway wakes.
      const stop = new AbortController();
      // MLSD lists everything (RFC 3659; ProFTPD's does too): mirrors rely on it.
      // Batches held back to be sorted: the listing moves though nothing is sent (the idle timeout).
      let held = 0;
      const order = verb === 'MLSD' ? AS_STORED : (l.order ?? BY_NAME);
      const namesOnly = verb === 'NLST' && order.by !== 'time' && order.by !== 'size';
      const batches = entries(ctx, l, verb === 'MLSD' ? 'show' : dotFiles(ctx), stop.signal, namesOnly);
      let rest: AsyncGenerator<readonly FileStat[]>;
      try {
        // The directory opened before the 150: one that cannot be read (EACCES) gets its 550
        // now rather than a 451 after the 150 (RFC 959), and its data connection is closed unused.
        rest = await opened(batches);
      } catch (err) {
        ctx.transfer.refused();
        throw err;
      }
      try {
        return await ctx.transfer.run(verb, 'Here comes the directory listing.', async (sock, t) => {
          const format = formatter(ctx, now, l);
          // A legacy session's lines in its set, a byte per character (LegacyCharset.byteString).
          const charset = replyCharset(ctx.session, ctx.options);
          const chunks = orderedChunks(
            rest,
            order,
            charset ? (st) => charset.byteString(format(st)) : format,
            { ...holding(ctx, () => void held++), encoding: charset ? 'latin1' : 'utf8' },
          );
          const out = Readable.from(chunks, { highWaterMark: 2 });
          const listing = new SourceWatch(out, 'list the directory'); // its failure: 451, not 426
          out.on('data', (c: Buffer) => t.count(c.length));
          // Nothing queued for the client and the listing not all sent: storage gives no entries (a
          // frozen gateway), so the data idle timeout fails it as storage's (451), not the client's.
          if (sock.idle) {
            sock.idle.heldByServer = () => sock.stream.writableLength === 0 && !sock.stream.writableEnded;
            let seen = held;
            sock.idle.pacing = () => seen !== (seen = held);
          }
          const abort = (): void => stop.abort(t.signal.reason);
          t.signal.addEventListener('abort', abort, { once: true });
          try {
            // connectionSink: a listing that fails leaves its connection to end after the 451.
            await listing.into(sock.stream, () =>
              pipeline(out, connectionSink(sock.stream), { signal: t.signal }),
            );
          } finally {
            t.signal.removeEventListener('abort', abort);
          }
        });
      } finally {
        stop.abort(); // the listing is over: its storage requests have no one to serve
        // Closed here too when the listing was never read (no data connection: 425).
        await batches.return(undefined);
      }
    },
  };
}

/** `it` with its first item read already (its errors thrown now), then the rest of it. */
async function opened<T>(it: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await it.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* it;
  })();
}

function withoutSize(facts: ReadonlySet<string>): ReadonlySet<string> {
  return new Set([...facts].filter((f) => f !== 'size'));
}

async function plainTarget(arg: string, ctx: CommandContext): Promise<{ path: VPath; stat: FileStat }> {
  const files = ctx.files();
  const path = await files.resolve(arg.length === 0 ? '.' : arg);
  return { path, stat: await files.storage.stat(path, files.context()) };
}

export const listingCommands: AnyCommandSpec[] = [
  listingCommand('LIST', (_ctx, now, l) => listLines(now, l)),
  listingCommand('NLST', (_ctx, _now, { prefix = '', name }) => {
    if (name !== undefined) return (st) => formatNlstLine({ ...st, name });
    return prefix === ''
      ? (st) => formatNlstLine(st)
      : (st) => formatNlstLine({ ...st, name: prefix + st.name });
  }),
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
      // No size of a file a cut upload of this user's left, as SIZE gives none (withheld-size.ts).
      const withheld =
        stat.type !== 'dir' && (await sizeWithheld(ctx.cutUploads, ctx.files().principal, path, stat));
      const facts = withheld ? withoutSize(ctx.session.mlstFacts) : ctx.session.mlstFacts;
      return reply(Code.FileActionOk, `Listing ${path}`, ` ${mlsxLines(ctx, facts)(stat, path)}`, 'End.');
    },
  }),
  command({
    verb: 'STAT',
    access: 'anyone',
    permission: ({ path }) => (path.length > 0 ? 'list' : undefined),
    target: ({ path }) => checkedPath(path),
    concurrency: 'out-of-band',
    help: 'STAT [<sp> path]',
    async handle({ path: arg }, ctx) {
      const t = ctx.transfer.active;
      if (t)
        return reply(
          Code.SystemStatus,
          formatTransferStatus(
            t.queued
              ? { command: t.command, queued: true }
              : { command: t.command, queued: false, bytes: t.bytes },
          ),
        );
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
      const l = await listed(arg, ctx);
      const line = listLines(new Date(), l);
      const code = l.stat.type === 'dir' ? Code.DirectoryStatus : Code.FileStatus;
      // The directory opened before the first line: one that cannot be read gets LIST's 550.
      const listing = ordered(entries(ctx, l, dotFiles(ctx)), l.order ?? BY_NAME, holding(ctx));
      const batches = await opened(listing);
      // Sent batch by batch as the client reads it: a directory of any size costs a batch of memory.
      // Opened with the first entries, so that a listing failing before any (a sorted one gathers
      // them all first) is a 450, not a 212 that reads as an empty directory.
      let out: { lines(lines: readonly string[]): Promise<void> } | undefined;
      const opening = `Status of ${l.path}:`;
      try {
        for await (const batch of batches)
          if (batch.length > 0) await (out ??= ctx.longReply(code, opening)).lines(batch.map(line));
      } catch (err) {
        // A client gone (or cut for not reading its replies) has nobody to answer.
        if (!(err instanceof FerryError && err.code === 'ERR_CLOSED'))
          ctx.logger.warn({ err: (err as Error).message }, 'STAT listing stopped');
        if (!out) return reply(Code.FileUnavailableBusy, `The listing of ${l.path} could not be read.`);
        // Entries are out under this code already: the end line must carry it.
        return reply(code, 'End of status: the listing stopped early.');
      } finally {
        await listing.return(undefined); // closed however it ends
      }
      return out ? reply(code, 'End of status.') : reply(code, opening, 'End of status.');
    },
  }),
];
