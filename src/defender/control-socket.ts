import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, link, lstat, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import * as net from 'node:net';
import { FerryError } from '../errors.js';
import type { Ban } from './defender.js';

/**
 * `ferry bans` and `ferry kick` talk to the running server over a Unix socket in its data dir
 * (mode 0600, so only the server's user can): one JSON request line, one JSON answer line.
 */
/** The error of a bans request to a server serving with the defender off (`ferry bans` then uses the file). */
export const DEFENDER_DISABLED = 'the defender is disabled';

export type ControlRequest =
  | { readonly op: 'list' }
  | { readonly op: 'rm'; readonly address: string }
  | BanRequest
  | { readonly op: 'kick'; readonly match: SessionMatch };
export type ControlAnswer =
  /** `ipv6PrefixLength`: what the server bans an IPv6 address as (`ferry bans rm` names its ban). */
  | { readonly ok: true; readonly bans: readonly Ban[]; readonly ipv6PrefixLength?: number }
  | { readonly ok: true; readonly removed: boolean }
  | { readonly ok: true; readonly ban: Ban }
  | KickAnswer
  | { readonly ok: false; readonly error: string };

/**
 * `ferry bans add`: the address or network as typed (the server makes the key: its IPv6 prefix),
 * for `ms` (default: its maxBanSeconds); one covering loopback only with `force`.
 */
export interface BanRequest {
  readonly op: 'add';
  readonly address: string;
  readonly ms?: number;
  readonly reason?: string;
  readonly force?: boolean;
}

/** The sessions to end: any whose id is listed, or of that user, or from that address. */
export interface SessionMatch {
  readonly ids: readonly string[];
  readonly user?: string;
  readonly address?: string;
}

/** What `kick` ended (as GET /sessions names a session) and the workers that did not answer. */
export interface KickAnswer {
  readonly ok: true;
  readonly ended: readonly EndedSession[];
  readonly missingWorkers: readonly number[];
}

export interface EndedSession {
  readonly id: string;
  readonly user: string | null;
  readonly address: string;
  readonly port: number | null;
  readonly worker: number | null;
}

/** Who asked, as a kick's log line says: a Unix socket names no caller (its mode is the check). */
export const KICKED_OVER_SOCKET = 'ferry kick (control socket)';

type Handler = (r: ControlRequest) => ControlAnswer | Promise<ControlAnswer>;

const MAX_REQUEST_BYTES = 4096;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Listens on `file`; a stale socket left by a killed server is replaced, a live one is an error.
 * The socket is bound in a private directory (0700, mkdtemp), made 0600 there and only then linked
 * at `file`: a socket bound at `file` itself has the umask's mode until its chmod, and under a loose
 * one (0002, 0000) another account could connect and be served in between.
 */
export async function openControlSocket(file: string, handle: Handler): Promise<net.Server> {
  const server = net.createServer((socket) => serve(socket, handle));
  // Short: a socket's path is limited (108 bytes), and this one is longer than `file` by 2.
  const dir = await mkdtemp(path.join(path.dirname(file), '.c'));
  const bound = path.join(dir, 's');
  try {
    await listen(server, bound);
    await chmod(bound, 0o600);
    await linkOnce(bound, file);
  } catch (err) {
    server.close();
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Closing unlinks the bound path (gone already): the socket at `file` goes too, if still ours;
  // at once, as libuv's own unlink was (a restart right after finds no socket).
  const { ino } = await lstat(file);
  server.once('close', () => {
    try {
      if (lstatSync(file).ino === ino) unlinkSync(file);
    } catch {
      // Gone already.
    }
  });
  return server;
}

/** Links `bound` at `file`: over a stale socket (no server answers), never over a live one. */
async function linkOnce(bound: string, file: string): Promise<void> {
  try {
    await link(bound, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (await answers(file)) {
      throw new FerryError('ERR_BUSY', `${file}: another Ferry server uses this data dir.`);
    }
    await rm(file, { force: true });
    await link(bound, file);
  }
}

/** The answer to a request this server does not know (a newer `ferry`'s op sent to an older server). */
export const UNKNOWN_REQUEST = 'unknown request';

/** Sends one request to the server listening on `file`; rejects with the errno when none does. */
export function controlRequest(file: string, request: ControlRequest): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(file);
    let text = '';
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('the server did not answer')));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as ControlAnswer);
      } catch {
        reject(new Error('the server sent an unreadable answer'));
      }
    });
  });
}

function serve(socket: net.Socket, handle: Handler): void {
  let text = '';
  socket.on('error', () => {});
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on('data', (d: Buffer) => {
    text += d.toString('utf8');
    const nl = text.indexOf('\n');
    if (nl < 0 && text.length <= MAX_REQUEST_BYTES) return;
    socket.removeAllListeners('data');
    void answer(text.slice(0, Math.max(nl, 0)), handle).then(
      (a) => socket.end(JSON.stringify(a) + '\n'),
      (err: Error) => socket.end(JSON.stringify({ ok: false, error: err.message }) + '\n'),
    );
  });
}

async function answer(line: string, handle: Handler): Promise<ControlAnswer> {
  let r: Partial<{
    op: unknown;
    address: unknown;
    match: unknown;
    ms: unknown;
    reason: unknown;
    force: unknown;
  }>;
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    return { ok: false, error: 'not a JSON request' };
  }
  if (r?.op === 'list') return handle({ op: 'list' });
  if (r?.op === 'rm' && typeof r.address === 'string') return handle({ op: 'rm', address: r.address });
  if (r?.op === 'add') {
    const ban = banRequestOf(r);
    return ban ? handle(ban) : { ok: false, error: UNKNOWN_REQUEST };
  }
  const match = r?.op === 'kick' ? matchOf(r.match) : undefined;
  if (match) return handle({ op: 'kick', match });
  return { ok: false, error: UNKNOWN_REQUEST };
}

/** An add as sent: an address, and a duration, a reason and force of the right types when given. */
function banRequestOf(
  r: Partial<Record<'address' | 'ms' | 'reason' | 'force', unknown>>,
): BanRequest | undefined {
  const { address, ms, reason, force } = r;
  if (typeof address !== 'string') return undefined;
  if (ms !== undefined && !(typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0)) return undefined;
  if (reason !== undefined && typeof reason !== 'string') return undefined;
  if (force !== undefined && typeof force !== 'boolean') return undefined;
  return {
    op: 'add',
    address,
    ...(ms === undefined ? {} : { ms }),
    ...(reason === undefined ? {} : { reason }),
    ...(force === undefined ? {} : { force }),
  };
}

/** A kick's match as sent: ids (strings), an optional user and address; anything else is refused. */
function matchOf(m: unknown): SessionMatch | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const { ids, user, address } = m as Partial<Record<'ids' | 'user' | 'address', unknown>>;
  if (!Array.isArray(ids) || !ids.every((id): id is string => typeof id === 'string')) return undefined;
  if (user !== undefined && typeof user !== 'string') return undefined;
  if (address !== undefined && typeof address !== 'string') return undefined;
  return { ids, ...(user === undefined ? {} : { user }), ...(address === undefined ? {} : { address }) };
}

function listen(server: net.Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
