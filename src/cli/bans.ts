import type { Command } from 'commander';
import { readBanFile, writeBanFile, type BanState } from '../defender/ban-file.js';
import {
  controlRequest,
  DEFENDER_DISABLED,
  type ControlAnswer,
  type ControlRequest,
} from '../defender/control-socket.js';
import { DEFAULT_DEFENDER, type Ban } from '../defender/defender.js';
import { manualBan } from '../defender/manual-ban.js';
import { FerryError } from '../errors.js';
import { parseNetwork } from '../protocol/network.js';
import { bansNamed, type AddressCounting } from '../defender/ban-networks.js';
import type { PgBans } from '../db/bans.js';
import { dataDirOf, databaseUrlOf, loadConfig } from './config.js';
import { openSharedState } from './shared-state.js';
import { defenderPaths } from './defender-config.js';
import { configOption } from './config-option.js';
import { textTable } from './text-table.js';
import { parseBanDuration } from './ban-duration.js';
import { humanSeconds } from './client-progress.js';

interface BansFlags {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

interface RmFlags extends BansFlags {
  covering?: boolean;
}

interface AddFlags extends BansFlags {
  for?: string;
  reason?: string;
  force?: boolean;
}

/** A ban to add, as typed: the server (or, with none, this command) makes its key. */
interface AddRequest {
  readonly address: string;
  readonly ms?: number;
  readonly reason?: string;
  readonly force?: boolean;
}

/**
 * `ferry bans list|add|rm`: asks the running server over its control socket (<dataDir>/control.sock);
 * with no server running, or one serving with the defender off, reads or edits the bans file a
 * start with the defender on loads.
 */
export function registerBans(program: Command): void {
  const bans = program
    .command('bans')
    .description("the defender's banned addresses (running server or saved)");
  const where = (c: Command): Command =>
    c
      .addOption(configOption("the server's YAML config file (for its dataDir)"))
      .option('--data-dir <dir>', "the server's data dir (default ~/.ferry)");
  where(bans.command('list').description('list the addresses banned now'))
    .option('--json', 'one JSON array (address, since, until, bans)')
    .action(async (flags: BansFlags) => {
      const list = await (await bansOf(flags)).list();
      process.stdout.write(flags.json ? JSON.stringify(list.map(asJson)) + '\n' : table(list));
    });
  where(
    bans
      .command('rm')
      .argument('<address>', 'the banned IP address or network, as listed (or an address in it)')
      .description('lift a ban now'),
  )
    .option('--covering', 'also lift the bans of networks holding it (each lets in its whole network)')
    .action(async (address: string, flags: RmFlags) => {
      await liftBans(await bansOf(flags), address, flags.covering === true);
    });
  where(
    bans
      .command('add')
      .argument('<address>', 'an IP address or a network (192.0.2.7, 192.0.2.0/24, 2001:db8::/48)')
      .description('ban an address or network now'),
  )
    .option('--for <duration>', 'how long: 30m, 12h, 7d, or seconds (default: defender.maxBanSeconds, 24 h)')
    .option('--reason <text>', 'why (listed, and logged with the ban)')
    .option('--force', 'ban even what covers loopback (127.0.0.0/8, ::1)')
    .action(async (address: string, flags: AddFlags) => {
      const ms = flags.for === undefined ? undefined : parseBanDuration(flags.for);
      const store = await bansOf(flags);
      const ban = await store.add({
        address,
        ...(ms === undefined ? {} : { ms }),
        ...(flags.reason === undefined ? {} : { reason: flags.reason }),
        ...(flags.force ? { force: true } : {}),
      });
      const until = utcText(ban.until);
      const length = humanSeconds((ban.until - ban.since) / 1000);
      process.stdout.write(`${ban.address} banned until ${until} (${length}).\n`);
    });
}

type Paths = ReturnType<typeof defenderPaths>;

/**
 * `ferry bans rm ADDRESS`: lifts the ban it names (bansNamed); the networks banned that hold it are
 * told, and lifted only with `covering` (each lets a whole network in).
 */
async function liftBans(store: BanStore, address: string, covering: boolean): Promise<void> {
  const listed = await store.list(true);
  const counting = { ipv6PrefixLength: store.ipv6PrefixLength(), nat64Prefixes: store.nat64Prefixes };
  const named = bansNamed(
    listed.map((b) => b.address),
    address,
    counting,
  );
  const { own } = named;
  if (!own && named.covering.length === 0 && !parseNetwork(address.trim()))
    throw new FerryError('ERR_USAGE', `"${address}" is not an IP address.`);
  const told = named.covering.map((key) => describeBan(listed, key)).join(', ');
  if (!own && named.covering.length > 0 && !covering)
    throw new FerryError(
      'ERR_NOT_FOUND',
      `${address} is not banned itself${store.where()}, but refused by the ban of ${told}: ` +
        `'ferry bans rm ${named.covering[0] ?? ''}' lifts it for every address in it (or add --covering).`,
    );
  const lifted: string[] = [];
  for (const key of [...(own ? [own] : []), ...(covering ? named.covering : [])])
    if (await store.remove(key)) lifted.push(key);
  if (lifted.length === 0) throw new FerryError('ERR_NOT_FOUND', `${address} is not banned${store.where()}.`);
  process.stdout.write(lifted.map((key) => `${key} unbanned.\n`).join(''));
  if (!covering && named.covering.length > 0)
    process.stderr.write(
      `ferry: ${address} is still refused by the ban of ${told}; add --covering to lift it too.\n`,
    );
}

interface BanStore {
  /** `quiet`: no word that the saved file was read (`bans rm` says it once, at the end). */
  list(quiet?: boolean): Promise<Ban[]>;
  remove(address: string): Promise<boolean>;
  add(r: AddRequest): Promise<Ban>;
  /** Where the last answer came from, when not from a server: ` in the saved bans (…)`, or ''. */
  where(): string;
  /** The config's NAT64/SIIT prefixes (defender.nat64Prefixes). */
  readonly nat64Prefixes: readonly string[];
  /** The IPv6 prefix length addresses are banned by: the server's when it told it, else the config's. */
  ipv6PrefixLength(): number;
}

/** The shared database's bans when there is one; else the running server's, or its bans file. */
async function bansOf(flags: BansFlags): Promise<BanStore> {
  const config = flags.config ? await loadConfig(flags.config) : {};
  const url = databaseUrlOf(config);
  // A ban made here (the database, or the file with no server) as the config's defender would.
  const banSettings = {
    ipv6PrefixLength: config.defender?.ipv6PrefixLength ?? DEFAULT_DEFENDER.ipv6PrefixLength,
    nat64Prefixes: config.defender?.nat64Prefixes ?? DEFAULT_DEFENDER.nat64Prefixes,
    maxBanMs: (config.defender?.maxBanSeconds ?? DEFAULT_DEFENDER.maxBanMs / 1000) * 1000,
  };
  if (url)
    return {
      list: () => withBans(url, (b) => b.list(), 'read'),
      remove: (a) => withBans(url, (b) => b.remove(a)),
      add: (r) => {
        const m = manualBanOrThrow(r, banSettings);
        const since = Date.now();
        return withBans(url, (b) =>
          b.add({ address: m.key, since, until: since + (r.ms ?? banSettings.maxBanMs) }),
        );
      },
      where: () => '',
      nat64Prefixes: banSettings.nat64Prefixes,
      ipv6PrefixLength: () => banSettings.ipv6PrefixLength,
    };
  const p = defenderPaths(dataDirOf(flags.dataDir, config));
  let saved: FileReason | undefined;
  const fromFile = (why: FileReason): void => void (saved = why);
  let served: number | undefined;
  return {
    list: async (quiet) => {
      const listed = await listBans(p, fromFile, quiet);
      served = listed.ipv6PrefixLength;
      return listed.bans;
    },
    remove: (a) => removeBan(p, fromFile, a),
    add: (r) => addBan(p, banSettings, r),
    where: () => (saved ? ` in the saved bans (${p.stateFile}; ${reasonText(p, saved)})` : ''),
    nat64Prefixes: banSettings.nat64Prefixes,
    ipv6PrefixLength: () => served ?? banSettings.ipv6PrefixLength,
  };
}

function manualBanOrThrow(r: AddRequest, counting: AddressCounting): { key: string; reason?: string } {
  const m = manualBan(r, counting);
  if ('error' in m) throw new FerryError('ERR_USAGE', m.error);
  return m;
}

/** `read` (bans list) changes nothing: see openSharedState. */
async function withBans<T>(
  url: string,
  fn: (bans: PgBans) => Promise<T>,
  mode: 'migrate' | 'read' = 'migrate',
): Promise<T> {
  const shared = await openSharedState(url, undefined, mode);
  try {
    return await fn(shared.bans);
  } finally {
    await shared.close();
  }
}

/**
 * `fromFile`: told when no server answered (or its defender is off) and the file is read. The
 * server tells its ipv6PrefixLength too (an older one does not).
 */
async function listBans(
  p: Paths,
  fromFile: (why: FileReason) => void,
  quiet = false,
): Promise<{ bans: Ban[]; ipv6PrefixLength?: number }> {
  const answer = await ask(p, { op: 'list' });
  if (typeof answer === 'object') {
    if (!('bans' in answer)) return { bans: [] };
    const { bans, ipv6PrefixLength } = answer;
    const told = typeof ipv6PrefixLength === 'number' && Number.isInteger(ipv6PrefixLength);
    return { bans: [...bans], ...(told ? { ipv6PrefixLength } : {}) };
  }
  fromFile(answer);
  if (!quiet) fileNotice(p, answer, `the saved bans (${p.stateFile}) are listed`);
  const now = Date.now();
  return { bans: (await readBanFile(p.stateFile)).active.filter((b) => b.until > now) };
}

/** `203.0.113.0/24 (until 2026-12-09T10:00:00Z: scanner)`, as `ferry bans rm` names a covering ban. */
function describeBan(listed: readonly Ban[], key: string): string {
  const b = listed.find((x) => x.address === key);
  if (!b) return key;
  return `${key} (until ${utcText(b.until)}${b.reason ? `: ${b.reason}` : ''})`;
}

function utcText(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

async function removeBan(p: Paths, fromFile: (why: FileReason) => void, address: string): Promise<boolean> {
  const answer = await ask(p, { op: 'rm', address });
  if (typeof answer === 'object') return 'removed' in answer && answer.removed;
  // Edit the file a start with the defender on loads (the ended ban still counts for a repeat).
  const state: BanState = await readBanFile(p.stateFile);
  const now = Date.now();
  const ban = state.active.find((b) => b.address === address && b.until > now);
  fromFile(answer);
  if (!ban) return false;
  state.active = state.active.filter((b) => b !== ban);
  state.past = [...state.past.filter((b) => b.address !== address), { ...ban, until: now }];
  await writeBanFile(p.stateFile, state);
  fileNotice(p, answer, `only the saved bans (${p.stateFile}) were changed`);
  return true;
}

/**
 * A ban asked of the running server (its primary with --workers N), or, with none or its defender
 * off, written to the bans file a start loads (replacing one on that key, counted as a repeat).
 */
async function addBan(p: Paths, s: AddressCounting & { maxBanMs: number }, r: AddRequest): Promise<Ban> {
  const answer = await ask(p, { op: 'add', ...r });
  if (typeof answer === 'object') {
    if ('ban' in answer) return answer.ban;
    throw new FerryError('ERR_REMOTE', 'the server sent no ban back');
  }
  const m = manualBanOrThrow(r, s);
  const state: BanState = await readBanFile(p.stateFile);
  const now = Date.now();
  const before = [...state.active, ...state.past].find((b) => b.address === m.key);
  const ban: Ban = {
    address: m.key,
    since: now,
    until: now + (r.ms ?? s.maxBanMs),
    bans: (before?.bans ?? 0) + 1,
    ...(m.reason ? { reason: m.reason } : {}),
  };
  state.active = [...state.active.filter((b) => b.address !== m.key), ban];
  state.past = state.past.filter((b) => b.address !== m.key);
  await writeBanFile(p.stateFile, state);
  fileNotice(p, answer, `only the saved bans (${p.stateFile}) were changed`);
  return ban;
}

/** Why the bans file is used: no server answered, or the one that did serves with the defender off. */
type FileReason = 'no-server' | 'defender-off';

/**
 * Says on stderr that the answer comes from the bans file: a server whose control socket is gone
 * (its data dir moved or recreated) still holds, and enforces, bans the file may not have; one with
 * the defender off enforces none, and the file is what a start with the defender on loads.
 */
function fileNotice(p: Paths, why: FileReason, what: string): void {
  const after =
    why === 'no-server' ? "a running server's bans may differ" : 'they apply when the defender is turned on';
  process.stderr.write(`ferry: ${reasonText(p, why)}: ${what}; ${after}.\n`);
}

function reasonText(p: Paths, why: FileReason): string {
  return why === 'no-server'
    ? `no server answered on ${p.controlSocket} (none running with this data dir)`
    : `the server on ${p.controlSocket} runs with the defender off`;
}

/** The server's answer, or why the file is the truth instead (no server listens, or no defender). */
async function ask(p: Paths, request: ControlRequest): Promise<ControlAnswer | FileReason> {
  let answer: ControlAnswer;
  try {
    answer = await controlRequest(p.controlSocket, request);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return 'no-server';
    throw new FerryError('ERR_CLOSED', `${p.controlSocket}: ${(err as Error).message}`);
  }
  if (!answer.ok && answer.error === DEFENDER_DISABLED) return 'defender-off';
  if (!answer.ok) throw new FerryError('ERR_USAGE', `the server says: ${answer.error}`);
  return answer;
}

function asJson(b: Ban): object {
  return {
    address: b.address,
    since: new Date(b.since).toISOString(),
    until: new Date(b.until).toISOString(),
    bans: b.bans,
    ...(b.reason ? { reason: b.reason } : {}),
  };
}

function table(list: readonly Ban[]): string {
  if (list.length === 0) return 'No banned addresses.\n';
  const now = Date.now();
  // REASON only when a ban has one (`ferry bans add --reason`).
  const reasons = list.some((b) => b.reason);
  const rows = list.map((b) => [
    b.address,
    utcText(b.until),
    `${Math.ceil((b.until - now) / 60_000)} min`,
    String(b.bans),
    ...(reasons ? [b.reason ?? ''] : []),
  ]);
  const all = [['ADDRESS', 'UNTIL (UTC)', 'LEFT', 'BANS', ...(reasons ? ['REASON'] : [])], ...rows];
  return textTable(all);
}
