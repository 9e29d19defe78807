import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import type { Command } from 'commander';
import { BEARER_TOKEN } from '../admin/bearer-token.js';
import { FerryError } from '../errors.js';
import type { SessionReport, SessionsReport } from '../server/session-report.js';
import { humanBytes, humanSeconds } from './client-progress.js';
import { loadConfig, parseHostPort } from './config.js';
import { configOption } from './config-option.js';
import { printableName } from './printable.js';
import { textTable } from './text-table.js';

interface WhoFlags {
  config?: string;
  admin?: string;
  tokenFile?: string;
  json?: boolean;
}

const TIMEOUT_MS = 10_000;

/**
 * `ferry who`: the sessions of the running server, as ProFTPD's ftpwho and Pure-FTPd's pure-ftpwho
 * show them, asked of its admin listener (GET /sessions).
 */
export function registerWho(program: Command): void {
  program
    .command('who')
    .description(
      "who is connected to the running server and what they are doing (its admin listener's /sessions)",
    )
    .addOption(configOption("the server's YAML config file (for admin.listen and admin.token)"))
    .option('--admin <host:port>', 'the admin listener (default: admin.listen in the config)')
    .option('--token-file <file>', 'a file holding the bearer token (default: admin.token in the config)')
    .option('--json', "the server's JSON as it is (sessions, missingWorkers)")
    .action(async (flags: WhoFlags) => {
      const { url, token } = await adminOf(flags);
      const body = await fetchSessions(url, token);
      if (flags.json) return void process.stdout.write(body.endsWith('\n') ? body : body + '\n');
      const report = JSON.parse(body) as SessionsReport;
      process.stdout.write(table(report.sessions, Date.now()));
      if (report.missingWorkers.length > 0) {
        process.stderr.write(
          `ferry who: worker ${report.missingWorkers.join(', ')} did not answer: its sessions are not listed.\n`,
        );
      }
    });
}

/** The /sessions URL and the token: from the flags, else from the server's config file. */
async function adminOf(flags: WhoFlags): Promise<{ url: string; token: string | undefined }> {
  const config = flags.config ? await loadConfig(flags.config) : undefined;
  const listen = flags.admin ?? config?.admin?.listen;
  if (listen === undefined) {
    throw new FerryError(
      'ERR_USAGE',
      flags.config
        ? `${flags.config}: no admin listener (admin.listen); turn it on there, or give --admin HOST:PORT.`
        : 'no admin listener given: --config FILE (or FERRY_CONFIG) with admin.listen, or --admin HOST:PORT.',
    );
  }
  const source = flags.admin ? '--admin' : `${flags.config}: admin.listen`;
  const { host, port } = parseHostPort(listen, source);
  if (port === 0) {
    throw new FerryError(
      'ERR_USAGE',
      `${source} has port 0 (chosen at each start): give --admin HOST:PORT from the banner.`,
    );
  }
  const token = flags.tokenFile ? await tokenFrom(flags.tokenFile) : config?.admin?.token;
  // fetch would refuse it with an error that quotes the whole header, token included.
  if (token !== undefined && !BEARER_TOKEN.test(token)) {
    throw new FerryError(
      'ERR_USAGE',
      `${flags.tokenFile ? `--token-file ${flags.tokenFile}` : `${flags.config}: admin.token`}: the token must be one line of printable characters without spaces.`,
    );
  }
  return { url: `http://${urlHost(host)}:${port}/sessions`, token };
}

async function tokenFrom(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new FerryError(
      'ERR_USAGE',
      `--token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code}).`,
    );
  }
}

/** A wildcard listen address is reached on loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return net.isIPv6(host) ? `[${host}]` : host;
}

async function fetchSessions(url: string, token: string | undefined): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if ((err as Error).name === 'TimeoutError')
      throw new FerryError('ERR_TIMEOUT', `${url}: no answer in ${TIMEOUT_MS / 1000} s.`);
    const why =
      cause?.code === 'ECONNREFUSED'
        ? 'connection refused (is ferry serve running with its admin listener?)'
        : (cause?.message ?? (err as Error).message);
    throw new FerryError('ERR_CONNECT', `${url}: ${why}`);
  }
  const body = await res.text();
  if (res.status === 401) {
    throw new FerryError(
      'ERR_AUTH',
      `${url}: 401, ${token ? 'the token was refused' : 'a token is needed'} (admin.token in the config, or --token-file).`,
    );
  }
  if (res.status !== 200) throw new FerryError('ERR_REMOTE', `${url}: ${res.status} ${body.trim()}`);
  return body;
}

/** USER, ADDRESS, MODE, SINCE, IDLE, DOING (and WORKER with --workers), oldest session first. */
function table(sessions: readonly SessionReport[], now: number): string {
  if (sessions.length === 0) return 'No sessions.\n';
  const workers = sessions.some((s) => s.worker !== null);
  const rows = [...sessions]
    .sort((a, b) => a.since.localeCompare(b.since))
    .map((s) => [
      s.user === null ? '(not logged in)' : printableName(s.user), // anonymous FTP: `anonymous`
      s.address.includes(':') ? `[${s.address}]:${s.port ?? '?'}` : `${s.address}:${s.port ?? '?'}`,
      s.tls ? s.mode : `${s.mode}, clear`,
      since(new Date(s.since), now),
      humanSeconds(s.idleSeconds),
      doingText(s),
      ...(workers ? [String(s.worker ?? '')] : []),
    ]);
  const all = [
    ['USER', 'ADDRESS', 'MODE', 'SINCE', 'IDLE', 'DOING', ...(workers ? ['WORKER'] : [])],
    ...rows,
  ];
  return textTable(all);
}

/**
 * Seconds without progress from which a transfer is shown stalled: a moving one on a slow link
 * may show none for a few seconds (its bytes wait in the kernel's buffers).
 */
const STALLED_S = 5;

/**
 * `RETR /big.iso 12.3 MiB at 1.20 MiB/s`, `RETR /big.iso 4.02 MiB at 0 B/s, stalled 11m00s`,
 * `MKD /new`, or `-` while waiting for the client.
 */
export function doingText(s: Pick<SessionReport, 'doing'>): string {
  const d = s.doing;
  if (!d) return '-';
  // A server from before these fields sends neither (undefined).
  const rate = d.bytesPerSecond ?? null;
  const since = d.sinceProgressSeconds ?? null;
  const pace = [
    rate === null ? '' : `at ${humanBytes(rate)}/s`,
    since === null || since < STALLED_S ? '' : `, stalled ${humanSeconds(since)}`,
  ].join('');
  return [
    d.command,
    d.path === null ? '' : printableName(d.path),
    d.bytes === null ? '' : humanBytes(d.bytes),
    pace,
  ]
    .filter((p) => p !== '')
    .join(' ');
}

/** Local time as ps shows a start: the time today, the date before. */
function since(d: Date, now: number): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d.toDateString() === new Date(now).toDateString())
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}
