import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { formatEprtArg, formatPortArg, parseEpsvReply, parsePasvReply } from '../../protocol/address.js';
import { Code } from '../../protocol/codes.js';
import {
  isNegative,
  isPositiveCompletion,
  isPreliminary,
  replyLine,
  type Reply,
} from '../../protocol/reply.js';
import { handshake } from '../../tls/handshake.js';
import { connectTcp } from '../control.js';
import { giveUp } from '../data-reset.js';
import { delay } from '../waits.js';
import { brief, probeTls, type ProbeConnection } from './connection.js';

/**
 * One data connection of the probe, with every knob a check needs: the way it is opened (EPSV,
 * PASV, EPRT, PORT), its TLS (none, a full handshake, or resuming a given session), bytes the
 * server sends in clear before any TLS, and how an upload ends (close_notify, or a bare TCP FIN as
 * a truncation attack would). Unlike client/transfer.ts it never gives up on a surprise: it records
 * what happened, and the checks judge it.
 */

export type DataMode = 'epsv' | 'pasv' | 'eprt' | 'port';

export interface DataPlan {
  /** The transfer command: `NLST`, `RETR name`, `STOR name`… */
  readonly command: string;
  readonly mode?: DataMode;
  /** No TLS (false), or TLS resuming `session` (undefined: a full handshake). */
  readonly tls: false | { readonly session: Buffer | undefined; readonly options?: tls.ConnectionOptions };
  /** An upload's bytes and how it ends. */
  readonly upload?: { readonly data: Buffer; readonly end: 'close-notify' | 'bare-fin' };
  /** Wait this long after the 1xx for bytes sent in clear before starting TLS (default 0). */
  readonly clearWatchMs?: number;
  /**
   * How long the final reply may take once the data connection is over (default: the reply
   * timeout). A server that refuses a data connection may keep waiting for the right one (Ferry
   * does, so that a stranger cannot kill a transfer) and answer only when its passive timeout ends.
   */
  readonly finalWaitMs?: number;
}

export interface DataOutcome {
  /** The reply that refused the endpoint (EPSV/PASV/EPRT/PORT), if it was refused. */
  readonly endpointRefused?: Reply;
  /** The endpoint command's reply (e.g. the 227 with its address). */
  readonly endpointReply?: Reply;
  readonly preliminary?: Reply;
  readonly final?: Reply;
  /** Bytes read from the data connection (after TLS, if any). */
  readonly data: Buffer;
  /** Bytes the server sent before any TLS on a protected plan (it sent data in clear). */
  readonly clearBytes: number;
  readonly tlsVersion?: string;
  readonly reused?: boolean;
  /** The TLS session the data connection ended with (for chained resumption). */
  readonly session?: Buffer;
  /** What went wrong on the data connection, if anything (handshake, reset, timeout). */
  readonly error?: string;
  /** An upload's bytes went out on the established data connection (not: refused before any data). */
  readonly uploadStarted?: boolean;
  /** More than PROBE_MAX_DATA came: the probe stopped reading (the data connection worked). */
  readonly overflowed?: boolean;
}

/** A Duplex over a TCP socket, so TLS runs over our stream and TCP can end without close_notify. */
class TcpPipe extends Duplex {
  constructor(private readonly raw: net.Socket) {
    super();
    raw.on('data', (d: Buffer) => {
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (e) => this.destroy(e));
  }
  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.raw.destroyed) return cb();
    if (this.raw.write(chunk)) cb();
    else this.raw.once('drain', () => cb());
  }
  override _final(cb: (err?: Error | null) => void): void {
    cb(); // the TLS engine's close_notify went out; TCP stays for the caller to end
  }
}

interface Endpoint {
  readonly connected: Promise<net.Socket>;
  readonly reply: Reply;
  close(): void;
}

async function openEndpoint(c: ProbeConnection, mode: DataMode): Promise<Endpoint | { refused: Reply }> {
  const ctl = c.control;
  const t = c.target;
  if (mode === 'epsv' || mode === 'pasv') {
    const r = await ctl.request(mode === 'epsv' ? 'EPSV' : 'PASV');
    const ok = mode === 'epsv' ? Code.EnteringExtendedPassive : Code.EnteringPassive;
    if (r.code !== ok) return { refused: r };
    const port = mode === 'epsv' ? parseEpsvReply(replyLine(r)) : parsePasvReply(replyLine(r))?.port;
    if (port === undefined) return { refused: r };
    // Always the control connection's address: a PASV address elsewhere is judged, never followed.
    // Watched for errors from the moment it connects: the server may reset it (ProFTPD refusing a
    // REST + STOR) while the probe still waits for the command's reply, before it reads the socket.
    const sock = connectTcp(
      ctl.remoteAddress,
      port,
      t.timeoutMs,
      undefined,
      `Cannot connect to port ${port}`,
    ).then((s) => s.on('error', () => {}));
    sock.catch(() => {});
    return {
      connected: sock,
      reply: r,
      close: () =>
        void sock.then(
          (s) => s.destroy(),
          () => {},
        ),
    };
  }
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ctl.localAddress, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  let accepted: net.Socket | undefined;
  const connected = new Promise<net.Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      server.close();
      reject(new Error(`the server did not connect within ${t.timeoutMs} ms`));
    }, t.timeoutMs);
    server.on('connection', (s: net.Socket) => {
      s.on('error', () => {});
      if (accepted) return void s.destroy();
      accepted = s;
      clearTimeout(timer);
      server.close();
      resolve(s);
    });
    server.on('close', () => clearTimeout(timer));
  });
  connected.catch(() => {});
  const close = (): void => {
    server.close();
    accepted?.destroy();
  };
  // Whatever stops the probe here (an address PORT cannot carry, no reply, a dead connection) must
  // not leave the listener open.
  let line: string;
  try {
    line =
      mode === 'eprt'
        ? `EPRT ${formatEprtArg(ctl.localAddress, port)}`
        : `PORT ${formatPortArg(ctl.localAddress, port)}`;
  } catch (err) {
    close();
    throw err;
  }
  const r = await ctl.request(line).catch((err: unknown) => {
    close();
    throw err;
  });
  if (!isPositiveCompletion(r)) {
    close();
    return { refused: r };
  }
  return { connected, reply: r, close };
}

/**
 * What a probe reads of one data connection at most: its listings and test files are small, and a
 * server sending without end must not take the prober's memory (the rest is not read).
 */
export const PROBE_MAX_DATA = 16 * 1024 * 1024;

/**
 * Reads everything until the stream ends (or fails, or stalls for `ms`), or until `refused` gives a
 * reply: the server refused the transfer (vsftpd's 522 to a clear data connection) and will send
 * nothing. Past PROBE_MAX_DATA it stops and closes the stream: `overflow`, the data connection
 * worked (no error).
 */
function drain(
  s: Duplex,
  ms: number,
  refused?: Promise<Reply | undefined>,
): Promise<{ data: Buffer; error?: string; overflow?: true }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let overflow = false;
    let timer = setTimeout(() => finish('no data for ' + ms + ' ms'), ms);
    void refused?.then((r) => r && finish());
    const finish = (error?: string): void => {
      clearTimeout(timer);
      s.off('data', onData);
      const data = Buffer.concat(chunks);
      if (overflow) resolve({ data, overflow });
      else resolve(error === undefined ? { data } : { data, error });
    };
    const onData = (d: Buffer): void => {
      chunks.push(d);
      total += d.length;
      if (total > PROBE_MAX_DATA) {
        overflow = true;
        s.destroy();
        return finish();
      }
      clearTimeout(timer);
      timer = setTimeout(() => finish('no data for ' + ms + ' ms'), ms);
    };
    s.on('data', onData);
    s.once('end', () => finish());
    s.once('error', (e: Error) => finish(shortError(e)));
    s.once('close', () => finish());
  });
}

/** Runs one transfer command the way `plan` says and records what happened. */
export async function exchange(c: ProbeConnection, plan: DataPlan): Promise<DataOutcome> {
  const ctl = c.control;
  const t = c.target;
  const ep = await openEndpoint(c, plan.mode ?? 'epsv');
  if ('refused' in ep) return { endpointRefused: ep.refused, data: Buffer.alloc(0), clearBytes: 0 };
  const base = { endpointReply: ep.reply };
  try {
    ctl.write(plan.command);
    const firstP = ctl.read(t.timeoutMs);
    firstP.catch(() => {});
    // Servers that handshake before answering: start TLS after a grace period without the 1xx.
    const grace = delay(plan.tls ? 1000 : 0);
    let first = await Promise.race([firstP, grace.promise.then(() => undefined)]);
    grace.cancel();
    if (first && !isPreliminary(first))
      return { ...base, final: first, data: Buffer.alloc(0), clearBytes: 0 };
    let raw: net.Socket;
    try {
      raw = await ep.connected;
    } catch (err) {
      const final = first
        ? await ctl.read(t.timeoutMs).catch(() => undefined)
        : await firstP.catch(() => undefined);
      return {
        ...base,
        ...(first ? { preliminary: first } : {}),
        ...(final ? { final } : {}),
        data: Buffer.alloc(0),
        clearBytes: 0,
        error: (err as Error).message,
      };
    }
    raw.on('error', () => {});
    const clear: Buffer[] = [];
    let clearEnded = false;
    const onClear = (d: Buffer): void => void clear.push(d);
    const onClearEnd = (): void => void (clearEnded = true);
    if (plan.tls) {
      raw.on('data', onClear);
      raw.once('end', onClearEnd);
      if (plan.clearWatchMs) {
        if (!first) first = await firstP.catch(() => undefined);
        await delay(plan.clearWatchMs).promise;
      }
      raw.off('data', onClear);
      raw.off('end', onClearEnd);
      raw.pause();
    }
    const clearBytes = clear.reduce((n, b) => n + b.length, 0);
    let stream: Duplex = raw;
    let tlsInfo: Pick<DataOutcome, 'tlsVersion' | 'reused'> = {};
    let session: Buffer | undefined;
    let error: string | undefined;
    let overflowed = false;
    if (plan.tls && clearBytes === 0 && !clearEnded) {
      const transport = plan.upload?.end === 'bare-fin' ? new TcpPipe(raw) : raw;
      const sock = tls.connect({
        ...probeTls(t, plan.tls.options),
        socket: transport,
        ...(plan.tls.session ? { session: plan.tls.session } : {}),
      });
      sock.on('error', () => {});
      sock.on('session', (s: Buffer) => void (session = s));
      try {
        await handshake(sock, 'client', t.timeoutMs, raw);
        tlsInfo = { tlsVersion: sock.getProtocol() ?? '?', reused: sock.isSessionReused() };
        stream = sock;
      } catch (err) {
        error = `TLS handshake failed: ${shortError(err)}`;
        sock.destroy();
      }
    } else if (plan.tls) {
      error = clearEnded && clearBytes === 0 ? 'closed before any TLS' : 'data in clear';
    }
    let data: Buffer = Buffer.concat(clear);
    let uploadStarted = false;
    if (error === undefined) {
      if (plan.upload) {
        const up = plan.upload;
        await new Promise<void>((resolve) => stream.write(up.data, () => resolve()));
        uploadStarted = true;
        if (up.end === 'bare-fin' && stream !== raw) {
          // A cut upload: the bytes are out, then TCP ends with no close_notify.
          await new Promise<void>((resolve) =>
            raw.writableLength === 0 ? resolve() : raw.once('drain', () => resolve()),
          );
          raw.end();
        } else stream.end();
        const rest = await drain(stream, t.timeoutMs);
        if (rest.error !== undefined && !/ECONNRESET|EPIPE/.test(rest.error)) error = rest.error;
      } else {
        // A refusal with no 1xx before it ends the wait for data (the reply stays first's).
        const refused = first
          ? undefined
          : firstP.then(
              (r) => (isNegative(r) ? r : undefined),
              () => undefined,
            );
        const got = await drain(stream, t.timeoutMs, refused);
        data = Buffer.concat([data, got.data]);
        error = got.error;
        overflowed = got.overflow === true;
        stream.end();
      }
    } else if (clearBytes > 0 || clearEnded) {
      raw.resume();
      const got = await drain(raw, t.timeoutMs);
      data = Buffer.concat([data, got.data]);
      overflowed = got.overflow === true;
    }
    if (!first) first = await firstP.catch(() => undefined);
    let final: Reply | undefined = first && !isPreliminary(first) ? first : undefined;
    if (!final && !ctl.failure)
      final = await ctl.read(plan.finalWaitMs ?? t.timeoutMs).catch(() => undefined);
    while (final && isPreliminary(final)) final = await ctl.read(t.timeoutMs).catch(() => undefined);
    raw.destroy();
    return {
      ...base,
      ...(first && isPreliminary(first) ? { preliminary: first } : {}),
      ...(final ? { final } : {}),
      data,
      clearBytes,
      ...tlsInfo,
      ...(session ? { session } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(uploadStarted ? { uploadStarted } : {}),
      ...(overflowed ? { overflowed } : {}),
    };
  } finally {
    ep.close();
  }
}

/** A short account of an outcome for the report's `received` column. */
export function describeOutcome(o: DataOutcome): string {
  if (o.endpointRefused) return brief(o.endpointRefused);
  const parts: string[] = [];
  if (o.preliminary) parts.push(String(o.preliminary.code));
  if (o.clearBytes > 0) parts.push(`${o.clearBytes} bytes in clear`);
  if (o.tlsVersion) parts.push(`${o.tlsVersion}${o.reused ? ' resumed' : ' full handshake'}`);
  if (o.error) parts.push(o.error);
  parts.push(o.final ? brief(o.final) : 'no final reply');
  return parts.join(', ');
}

/** A transfer that worked: a 2xx at the end and no data connection failure. */
export function succeeded(o: DataOutcome): boolean {
  // Cut by the probe itself past PROBE_MAX_DATA: the server's reply to that says nothing of it.
  if (o.overflowed === true) return true;
  return o.final !== undefined && isPositiveCompletion(o.final) && o.error === undefined;
}

/** A download left running without reading it (the server blocks once the buffers fill). */
export interface HeldTransfer {
  readonly preliminary: Reply;
  /** Ends the data connection as a client giving up does: a TCP reset, unless it has ended already. */
  reset(): void;
}

/**
 * Starts `command` (a RETR of a large file) over a protected passive data connection resuming
 * `session`, reads its first bytes and stops reading: the transfer stays in progress for ABOR or
 * STAT. `failed` when it could not be started.
 */
export async function holdTransfer(
  c: ProbeConnection,
  command: string,
  session: Buffer | undefined,
): Promise<{ held: HeldTransfer } | { failed: string }> {
  const ctl = c.control;
  let ep = await openEndpoint(c, 'epsv');
  if ('refused' in ep) ep = await openEndpoint(c, 'pasv');
  if ('refused' in ep) return { failed: brief(ep.refused) };
  const endpoint = ep;
  // Destroyed on every failure below: a data connection left open would keep the process alive
  // (the server holds it until its own timeout) after the report is printed.
  let raw: Awaited<typeof endpoint.connected> | undefined;
  try {
    ctl.write(command);
    const firstP = ctl.read(c.target.timeoutMs);
    firstP.catch(() => {});
    const grace = delay(1000);
    let first = await Promise.race([firstP, grace.promise.then(() => undefined)]);
    grace.cancel();
    if (first && !isPreliminary(first)) {
      endpoint.close();
      return { failed: brief(first) };
    }
    const conn = (raw = await endpoint.connected);
    conn.on('error', () => {});
    const sock = tls.connect({ ...probeTls(c.target), socket: conn, ...(session ? { session } : {}) });
    sock.on('error', () => {});
    await handshake(sock, 'client', c.target.timeoutMs, conn);
    // Wait for the first bytes, so that the transfer is really running (a server may tell "no
    // transfer in progress" until it has sent something), then stop reading: it blocks once the
    // socket buffers are full.
    const bytes = await firstBytes(sock, c.target.timeoutMs);
    sock.pause();
    if (bytes === 0) {
      giveUp(conn, sock);
      endpoint.close();
      return { failed: 'no data came on the data connection' };
    }
    first ??= await firstP;
    if (!isPreliminary(first)) {
      conn.destroy();
      return { failed: brief(first) };
    }
    return {
      held: {
        preliminary: first,
        reset: () => {
          giveUp(conn, sock);
          endpoint.close();
        },
      },
    };
  } catch (err) {
    raw?.destroy();
    endpoint.close();
    return { failed: (err as Error).message };
  }
}

/** Reads until the first bytes come (their count), or 0 when the stream ends, fails or stays silent for `ms`. */
function firstBytes(s: Duplex, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const finish = (n: number): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onEnd);
      s.off('close', onEnd);
      resolve(n);
    };
    const onData = (d: Buffer): void => {
      s.pause();
      finish(d.length);
    };
    const onEnd = (): void => finish(0);
    const timer = setTimeout(onEnd, ms);
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onEnd);
    s.once('close', onEnd);
  });
}

/** An error in one line: OpenSSL's reason (`tlsv1 alert protocol version`) rather than its trace. */
export function shortError(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  const text = [e.message ?? String(err), e.cause instanceof Error ? e.cause.message : ''].join(' ');
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(text);
  if (ssl?.[1]) return ssl[1];
  return (e.message ?? String(err)).split('\n')[0] ?? '';
}
