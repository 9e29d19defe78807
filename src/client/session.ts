import type * as tls from 'node:tls';
import type { Secret } from '../auth/types.js';
import { FerryError, ReplyError } from '../errors.js';
import { Code, type ReplyCode } from '../protocol/codes.js';
import { isPositiveCompletion, replyLine } from '../protocol/reply.js';
import type { Reply } from '../protocol/reply.js';
import type { ClientControlConnection } from './control.js';
import { localError, ProtectedDataRequiredError, refusesClearData } from './errors.js';
import type { LocalWatch } from './local-watch.js';
import { DEFAULTS, type ClientOptions } from './options.js';
import { runTransfer, type DataOptions, type DataState, type TransferBody } from './transfer.js';
import type { Security } from './url.js';

/**
 * A logged-in session's state, shared by the client's operations (connect.ts, listing.ts, files.ts,
 * directories.ts), and the primitives they all use: commands, replies and data commands.
 */
export interface ClientSession {
  /** The options, without the password. */
  readonly opts: ClientOptions;
  /** For the login, and the login again after REIN. */
  readonly password: Secret | undefined;
  /** How the control connection was secured at login. */
  readonly security: Security;
  /** Base TLS options for the control and data connections. */
  readonly tlsOptions: tls.ConnectionOptions;
  readonly dataState: DataState;
  readonly control: ClientControlConnection;
  /** FEAT: feature name (uppercase) → parameters. */
  featureMap: ReadonlyMap<string, string>;
  /** Data protection in effect (PROT), undefined before it is set. */
  prot: 'P' | 'C' | undefined;
  /** Implicit FTPS: the server implies PROT P (MS-FTPS 3.2.5.1), so PBSZ/PROT were not sent. */
  impliesProt: boolean;
  /** The login directory (from PWD). */
  home: string | undefined;
  /** The HASH algorithm this client selected with OPTS HASH, if it did. */
  hashSelected?: string;
  /** Whether `LIST -a` lists dot-files here (false: the server refused it); undefined until known. */
  listAll?: boolean;
}

/** Text of a 257 reply's quoted path (`"/a ""b"""` → `/a "b"`). */
export function parsePwdReply(r: Reply): string | undefined {
  const m = /"((?:[^"]|"")*)"/.exec(r.lines[0]);
  return m ? (m[1] ?? '').replaceAll('""', '"') : undefined;
}

export function pathArg(p: string): string {
  if (typeof p !== 'string')
    throw new FerryError('ERR_USAGE', `A path must be a string, not ${described(p)}.`);
  if (/[\r\n]/.test(p)) throw new FerryError('ERR_USAGE', 'A path must not contain a line break.');
  return p;
}

/** What a JavaScript caller passed instead of the type asked for, for a usage error (`a Buffer`). */
export function described(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  const name =
    typeof v === 'object' ? (v as { constructor?: { name?: unknown } }).constructor?.name : typeof v;
  const what = typeof name === 'string' && name !== '' ? name : 'object';
  return `${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}`;
}

/** Sends a command; throws ReplyError unless the final reply passes `ok` (default: 2xx). */
export async function command(
  s: ClientSession,
  line: string,
  ok: (r: Reply) => boolean = isPositiveCompletion,
  timeoutMs?: number,
): Promise<Reply> {
  const r = await s.control.request(line, timeoutMs === undefined ? {} : { timeoutMs });
  if (!ok(r)) throw new ReplyError(r.code, replyLine(r), line);
  return r;
}

/** A refused PBSZ or PROT: the session cannot have the data protection it needs. */
export function protRefused(command: 'PBSZ 0' | 'PROT P' | 'PROT C', r: Reply): FerryError {
  // 534 to PROT C: the server's policy wants protected data (a refusal, not a TLS failure).
  if (command === 'PROT C' && r.code === Code.PolicyRequiresProtection)
    return new ProtectedDataRequiredError(new ReplyError(r.code, replyLine(r), command));
  return new FerryError('ERR_TLS', `The server refused ${command}: ${r.code} ${replyLine(r)}`);
}

export async function setProt(s: ClientSession, level: 'P' | 'C', pbsz: boolean): Promise<void> {
  const c = s.control;
  if (pbsz) {
    const r = await c.request('PBSZ 0');
    if (!isPositiveCompletion(r)) throw protRefused('PBSZ 0', r);
  }
  const r = await c.request(`PROT ${level}`);
  if (!isPositiveCompletion(r)) throw protRefused(`PROT ${level}`, r);
  s.prot = level;
}

function dataOptions(s: ClientSession): DataOptions {
  const o = s.opts;
  return {
    mode: o.dataMode ?? 'passive',
    protect: s.prot === 'P',
    tlsOptions: s.tlsOptions,
    insecure: o.insecure ?? false,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    dataTimeoutMs: o.dataTimeoutMs ?? DEFAULTS.dataTimeoutMs,
  };
}

/** Refusals of a data connection that ask for protection (PROT P). */
const PROTECTION_REFUSALS: ReadonlySet<ReplyCode> = new Set<ReplyCode>([
  Code.ProtLevelRefused,
  Code.TlsNegotiationFailed,
  Code.PolicyRequiresProtection,
]);

/**
 * Runs a data command. Toward an implicit FTPS server taken to imply PROT P (connect.ts), a refusal
 * that asks for protection (521, 522, 534) means it does not after all: then send PBSZ 0 and PROT P
 * once and retry.
 */
export async function transfer(
  s: ClientSession,
  line: string,
  body: TransferBody,
  opts: {
    signal?: AbortSignal;
    onBytes?: (n: number) => void;
    onPreliminary?: (r: Reply) => void;
    rest?: number;
    local?: LocalWatch;
    size?: () => number | undefined;
    dataRequired?: boolean;
  },
) {
  const attempt = async () => {
    // The caller's stream failed already: nothing more is sent.
    if (opts.local?.failure) throw localError(opts.local.failure);
    if (opts.rest !== undefined && opts.rest > 0) {
      await command(s, `REST ${opts.rest}`, (r) => r.code === Code.PendingFurtherInfo);
    }
    return runTransfer(s.control, dataOptions(s), s.dataState, {
      command: line,
      body,
      signal: opts.signal,
      onBytes: opts.onBytes,
      onPreliminary: opts.onPreliminary,
      local: opts.local,
      size: opts.size,
      dataRequired: opts.dataRequired,
    });
  };
  try {
    return await attempt();
  } catch (err) {
    if (
      s.impliesProt &&
      s.prot === 'P' &&
      err instanceof ReplyError &&
      PROTECTION_REFUSALS.has(err.replyCode) &&
      !s.control.failure
    ) {
      s.control.info('The server did not imply PROT P on implicit FTPS; sending PBSZ 0 and PROT P.');
      await setProt(s, 'P', true);
      s.impliesProt = false;
      return attempt();
    }
    if (s.prot === 'C' && err instanceof ReplyError && refusesClearData(err))
      throw new ProtectedDataRequiredError(err);
    throw err;
  }
}
