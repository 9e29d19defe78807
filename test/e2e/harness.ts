/**
 * Shared pieces of the e2e suites: sessions over explicit or implicit FTPS, waiting on the server's
 * log lines (as events, not by polling), leak checks and small data helpers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type tls from 'node:tls';
import { textOf, withDeadline, RawFtp, DEFAULT_TIMEOUT_MS } from '../support/raw-ftp.js';
import { secureLogin } from '../support/ftps-session.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { Reply } from '../../src/protocol/reply.js';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';

export type Mode = 'explicit' | 'implicit';
/** Every suite that makes sense in both modes runs once per mode (pyftpdlib re-runs its suite over TLS). */
export const MODES: readonly Mode[] = ['explicit', 'implicit'];

export type LogLine = TestServer['logs'][number];

export function portOf(ts: TestServer, mode: Mode): number {
  return mode === 'implicit' ? ts.implicitPort : ts.explicitPort;
}

/**
 * Connected, greeting read, control connection inside TLS (AUTH TLS on explicit); not logged in.
 * `maxVersion` caps the TLS version the client offers (control and data connections).
 */
export async function connectSecure(
  ts: TestServer,
  mode: Mode,
  maxVersion?: tls.SecureVersion,
): Promise<RawFtp> {
  const implicit = mode === 'implicit';
  const ftp = await RawFtp.connect({ host: ts.host, port: portOf(ts, mode), implicit, maxVersion });
  try {
    await ftp.expect(220);
    if (mode === 'explicit') {
      const r = await ftp.authTls('TLS');
      assert.equal(r.code, 234, textOf(r));
    }
    return ftp;
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

/**
 * As connectSecure, from a client whose side stays open when the server closes its own (ftplib
 * keeps its socket after an error reply): it sees the server's FIN as 'end' on `socket`.
 */
export async function connectKeepingOpen(
  ts: TestServer,
  mode: Mode,
  maxVersion?: tls.SecureVersion,
): Promise<RawFtp> {
  const implicit = mode === 'implicit';
  const port = portOf(ts, mode);
  const ftp = await RawFtp.connect({ host: ts.host, port, implicit, keepOpen: true, maxVersion });
  try {
    await ftp.expect(220);
    if (!implicit) assert.equal((await ftp.authTls('TLS')).code, 234);
    return ftp;
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

/** connectSecure + USER/PASS, and PBSZ 0 + PROT P on explicit (implied on implicit). */
export function loggedIn(ts: TestServer, mode: Mode, maxVersion?: tls.SecureVersion): Promise<RawFtp> {
  const [port, implicit] = [portOf(ts, mode), mode === 'implicit'];
  const [user, password] = [ts.user, ts.password];
  return secureLogin({ host: ts.host, port, implicit, user, password, maxVersion, binary: false });
}

/** Logged in as `user` (password `pw` unless given), data protected, TYPE I; closed by `track`'s owner. */
export async function loginAs(
  ts: TestServer,
  mode: Mode,
  user: string,
  track: (c: RawFtp) => RawFtp,
  password = 'pw',
): Promise<RawFtp> {
  const implicit = mode === 'implicit';
  return track(await secureLogin({ host: ts.host, port: portOf(ts, mode), implicit, user, password }));
}

/**
 * STOR/APPE/STOU whose data the server may stop reading: writes what it can, returns the final
 * reply; or the refusal that came instead of the 150 (the data connection unused, closed here).
 */
export async function storeAll(ftp: RawFtp, line: string, bytes: Uint8Array): Promise<Reply> {
  // TLS after the 150 (Ferry's client's order): a handshake before the command waits out the
  // server's half-second direction grace.
  const plain = await ftp.openData(await ftp.epsv(), { tls: false });
  const opening = await ftp.cmd(line);
  if (opening.code !== 150) {
    assert.ok(opening.code >= 400, `${line} → ${opening.code} ${textOf(opening)}`);
    plain.stream.end();
    await withDeadline(plain.closed, ftp.timeoutMs, 'the data connection to close');
    return opening;
  }
  const sent = (ftp.dataTls ? ftp.secureData(plain) : Promise.resolve(plain))
    .then((conn) => ftp.uploadClean(conn, bytes))
    .catch(() => {}); // reset once the server refuses
  const r = await ftp.expect();
  await sent;
  return r;
}

/** Runs `fn` with the clients it opens closed afterwards, whatever happens. */
export async function withClients<T>(fn: (track: (c: RawFtp) => RawFtp) => Promise<T>): Promise<T> {
  const clients: RawFtp[] = [];
  try {
    return await fn((c) => (clients.push(c), c));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

// ---- server log lines as events ----------------------------------------------------------------

const logWaiters = new WeakMap<TestServer['logs'], (() => void)[]>();

function hookLogs(logs: TestServer['logs']): (() => void)[] {
  const known = logWaiters.get(logs);
  if (known) return known;
  const list: (() => void)[] = [];
  logWaiters.set(logs, list);
  const push = logs.push.bind(logs);
  logs.push = (...items: LogLine[]): number => {
    const n = push(...items);
    for (const w of list.splice(0)) w();
    return n;
  };
  return list;
}

/**
 * Resolves with the first log line (from index `from` on) matching `pred`, waiting for the server
 * to write it (each push wakes the wait; there is no polling), within `ms`.
 */
export async function waitForLog(
  ts: TestServer,
  pred: (l: LogLine) => boolean,
  from = 0,
  ms = DEFAULT_TIMEOUT_MS,
): Promise<LogLine> {
  const waiters = hookLogs(ts.logs);
  const find = (): LogLine | undefined => ts.logs.slice(from).find(pred);
  const found = find();
  if (found) return found;
  return withDeadline(
    new Promise<LogLine>((resolve) => {
      const check = (): void => {
        const l = find();
        if (l) resolve(l);
        else waiters.push(check);
      };
      waiters.push(check);
    }),
    ms,
    'a server log line',
  );
}

/** Starts hooking the server's log so waitForLog() can be woken by it. */
export function startServer(overrides: Partial<ServerOptions> = {}): Promise<TestServer> {
  return startFerry(overrides).then((ts) => {
    hookLogs(ts.logs);
    return ts;
  });
}

/**
 * The shared setup of a suite (call it inside `describe`): before its tests, takes a leak baseline
 * and starts a server with `overrides` (a function is called then, so it may use what earlier
 * `before` hooks prepared); after them, closes the server and asserts nothing leaked. Returns an
 * accessor for the server, usable in the suite's tests and in hooks registered after this call.
 */
export function useFerry(
  overrides: Partial<ServerOptions> | (() => Partial<ServerOptions>) = {},
): () => TestServer {
  let ts: TestServer | undefined;
  let baseline: ResourceCounts;
  before(async () => {
    baseline = resourceCounts();
    ts = await startServer(typeof overrides === 'function' ? overrides() : overrides);
  });
  after(async () => {
    await ts?.close();
    await assertNoLeaks(baseline);
  });
  return () => {
    if (!ts) throw new Error('useFerry: the server is not started (use it in tests or later hooks)');
    return ts;
  };
}

/**
 * For a suite whose tests run at once (each mostly waiting out a timeout): `fn` with a server of
 * its own, so that it reads only its own sessions' log lines, closed afterwards whatever happens.
 */
export async function withServer(
  overrides: Partial<ServerOptions>,
  fn: (ts: TestServer) => Promise<void>,
): Promise<void> {
  const ts = await startServer(overrides);
  try {
    await fn(ts);
  } finally {
    await ts.close();
  }
}

/** The leak check of such a suite (call it inside `describe`): a baseline before its tests, checked after all. */
export function checkLeaksAfterAll(): void {
  let baseline: ResourceCounts;
  before(() => {
    baseline = resourceCounts();
  });
  after(() => assertNoLeaks(baseline));
}

// ---- TLS option overrides --------------------------------------------------------------------

/** Certificate files for a `tls` override (overriding `tls` replaces startFerry's certificate). */
export async function certificateFiles(): Promise<{
  tls: NonNullable<ServerOptions['tls']>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-cert-'));
  const pair = await testCertificate();
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key);
  return {
    tls: { certificates: [{ certFile, keyFile }], dataDir: path.join(dir, 'data') },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

// ---- leak checks ---------------------------------------------------------------------------

const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'] as const;
export type ResourceCounts = Record<(typeof WATCHED)[number], number>;

export function resourceCounts(): ResourceCounts {
  const info = process.getActiveResourcesInfo();
  const counts: ResourceCounts = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const name of info)
    if ((WATCHED as readonly string[]).includes(name)) counts[name as keyof ResourceCounts]++;
  return counts;
}

/**
 * Asserts no socket, listener or timer is left beyond `baseline` (taken before the server
 * started). Handles closed in this turn finish closing in libuv's close phase, so the check lets
 * the event loop turn a few times (setImmediate: no timed sleep) before it decides.
 */
export async function assertNoLeaks(baseline: ResourceCounts, what = 'after close'): Promise<void> {
  let now = resourceCounts();
  for (let turn = 0; turn < 5 && !fits(now, baseline); turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    now = resourceCounts();
  }
  assert.deepEqual(
    now,
    baseline,
    `resources left open ${what}: ${process.getActiveResourcesInfo().join(', ')}`,
  );
}

function fits(now: ResourceCounts, baseline: ResourceCounts): boolean {
  return WATCHED.every((k) => now[k] === baseline[k]);
}

// ---- what went over the wire ---------------------------------------------------------------

/**
 * What the server sent on `ftp`'s control connection once TLS began (at once on implicit, after
 * the clear 234 on explicit) that is not whole TLS records: clear text among them, or ''.
 */
export function clearAfterTls(ftp: RawFtp, mode: Mode): string {
  const raw = Buffer.concat(ftp.rawReceived);
  let at = 0;
  if (mode === 'explicit') {
    const text = raw.toString('latin1');
    at = text.indexOf('\r\n', text.search(/^234 /m)) + 2;
    assert.ok(at > 1, 'a clear 234 before TLS');
  }
  // Record header: type 20–23 (ChangeCipherSpec, Alert, Handshake, ApplicationData), 0x03 0x0n, length.
  while (at + 5 <= raw.length && raw[at]! >= 20 && raw[at]! <= 23 && raw[at + 1] === 3) {
    const end = at + 5 + raw.readUInt16BE(at + 3);
    if (end > raw.length) break;
    at = end;
  }
  return raw.subarray(at).toString('latin1');
}

// ---- data ---------------------------------------------------------------------------------

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}

/** Asserts two buffers are byte-identical without dumping megabytes on failure. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'data'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.equal(sha256(actual), sha256(expected), `${what}: sha256`);
}

/** Asserts a reply mentions no host path (the root, its temp parent, or `extra`). */
export function assertNoHostPath(r: Reply, ts: TestServer, ...extra: string[]): void {
  const text = textOf(r);
  for (const p of [ts.root, path.dirname(ts.root), ...extra]) {
    assert.ok(!text.includes(p), `reply leaks host path ${p}: ${r.code} ${text}`);
  }
}

export { textOf };

/**
 * A connection through a trusted proxy (127.0.0.1) whose PROXY header names the client `from`: any
 * source (an IPv6 one, a NAT64 one), on loopback. Its first reply (220, or a 421 refusal).
 */
export async function viaProxy(ts: TestServer, from: string): Promise<{ ftp: RawFtp; first: Reply }> {
  const ftp = await RawFtp.connect({
    host: ts.host,
    port: ts.explicitPort,
    implicit: false,
    localAddress: '127.0.0.1',
  });
  const to = from.includes(':') ? '2001:db8::21' : '203.0.113.21';
  ftp.socket.write(formatProxyV1({ address: from, port: 40_000 }, { address: to, port: 21 }));
  return { ftp, first: await ftp.expect() };
}

/** One failed login on an explicit connection: AUTH TLS, USER `user`, a wrong password; closed. */
export async function wrongPassword(ftp: RawFtp, user: string): Promise<void> {
  await ftp.authTls('TLS');
  await ftp.cmd(`USER ${user}`, 331);
  await ftp.cmd('PASS wrong', 530);
  await ftp.close();
}
