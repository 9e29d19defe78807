/**
 * The session most tests start from, and its passive transfers, written once: connected (from a
 * given local address), inside TLS (AUTH TLS on explicit FTPS, from the first byte on implicit),
 * logged in, data protected (PBSZ 0 + PROT P on explicit; implied on implicit), TYPE I.
 */
import assert from 'node:assert/strict';
import type tls from 'node:tls';
import { parseEpsvReply, parsePasvReply } from '../../src/protocol/address.js';
import { RawFtp, textOf, type DataConnection } from './raw-ftp.js';

export interface SecureLogin {
  readonly host: string;
  readonly port: number;
  readonly implicit: boolean;
  readonly user: string;
  readonly password: string;
  /** Connect from this local address (e.g. 127.0.0.2), so the server sees that client. */
  readonly from?: string;
  /** Deadline for each wait (default 10 s). */
  readonly timeoutMs?: number;
  /** Send TYPE I after the login (default true). */
  readonly binary?: boolean;
  /** Highest TLS version offered (control and data connections). */
  readonly maxVersion?: tls.SecureVersion;
}

/** A logged-in session with protected data; closed on failure, else the caller's to close. */
export async function secureLogin(o: SecureLogin): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: o.host,
    port: o.port,
    implicit: o.implicit,
    localAddress: o.from,
    timeoutMs: o.timeoutMs,
    maxVersion: o.maxVersion,
  });
  try {
    await ftp.expect(220);
    if (!o.implicit) {
      const r = await ftp.authTls('TLS');
      assert.equal(r.code, 234, textOf(r));
    }
    await ftp.login(o.user, o.password);
    if (!o.implicit) {
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT P', 200);
    }
    if (o.binary ?? true) await ftp.cmd('TYPE I', 200);
    return ftp;
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

export type PassiveVerb = 'PASV' | 'EPSV';

/** Where a passive data connection goes. */
export interface PassiveTarget {
  readonly host: string;
  readonly port: number;
}

/** PASV (the address and port it announces) or EPSV (its port, on the control connection's host). */
export async function enterPassive(ftp: RawFtp, verb: PassiveVerb = 'PASV'): Promise<PassiveTarget> {
  if (verb === 'PASV') {
    const r = await ftp.cmd('PASV', 227);
    const hp = parsePasvReply(textOf(r));
    assert.ok(hp, textOf(r));
    return hp;
  }
  const r = await ftp.cmd('EPSV', 229);
  const port = parseEpsvReply(textOf(r));
  assert.ok(port !== undefined, textOf(r));
  return { host: ftp.host, port };
}

export interface PassiveTransfer {
  readonly via?: PassiveVerb;
  /** The data connection's local address (the client's own, as for the control connection). */
  readonly from?: string;
  /** Deadline for reading the data (default: the session's). */
  readonly timeoutMs?: number;
}

/**
 * A passive data connection's TCP connection, opened before the command; `line` and its 150; then
 * TLS (when the data is protected): Ferry's client's order. A handshake finished before the command
 * would wait out the server's half-second direction grace on every transfer.
 */
async function openedFor(
  ftp: RawFtp,
  at: PassiveTarget,
  line: string,
  from?: string,
): Promise<DataConnection> {
  const plain = await ftp.openData(at.port, { tls: false, host: at.host, localAddress: from });
  await ftp.cmd(line, 150);
  return ftp.dataTls ? ftp.secureData(plain) : plain;
}

/** `RETR file` over a passive data connection (opened before the command): the bytes and where from. */
export async function download(
  ftp: RawFtp,
  file: string,
  o: PassiveTransfer = {},
): Promise<{ data: Buffer; at: PassiveTarget }> {
  const at = await enterPassive(ftp, o.via);
  const conn = await openedFor(ftp, at, `RETR ${file}`, o.from);
  const data = await ftp.readAll(conn, o.timeoutMs);
  await ftp.expect(226);
  return { data, at };
}

/** `STOR file` over a passive data connection, closed cleanly; 226 expected. Where it went. */
export async function upload(
  ftp: RawFtp,
  file: string,
  bytes: Uint8Array,
  o: PassiveTransfer = {},
): Promise<PassiveTarget> {
  const at = await enterPassive(ftp, o.via);
  const conn = await openedFor(ftp, at, `STOR ${file}`, o.from);
  await ftp.uploadClean(conn, bytes);
  await ftp.expect(226);
  return at;
}

/**
 * `STOR file` of `size` bytes over EPSV, whatever the outcome: the final reply's code (a refusal
 * before any data, as 552 or 550, included). For tests of limits that refuse uploads.
 */
export async function storeCode(ftp: RawFtp, file: string, size: number): Promise<number> {
  // TLS after the 150, as in openedFor.
  const plain = await ftp.openData(await ftp.epsv(), { tls: false });
  const opening = await ftp.cmd(`STOR ${file}`);
  if (opening.code !== 150) return opening.code;
  const sent = (ftp.dataTls ? ftp.secureData(plain) : Promise.resolve(plain))
    .then((conn) => ftp.uploadClean(conn, Buffer.alloc(size, 1)))
    .catch(() => {});
  const r = await ftp.expect();
  await sent;
  return r.code;
}

/**
 * `STOR file` with `data` sent and the server seen reading it (STAT counts bytes), the upload left
 * open: for tests that then cut it as a killed client would (resetting both connections).
 */
export async function uploadUnderWay(ftp: RawFtp, file: string, data: Buffer): Promise<DataConnection> {
  const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
  await ftp.cmd(`STOR ${file}`, 150);
  conn.stream.resume();
  conn.stream.write(data);
  for (let i = 0; / 0 bytes transferred/.test(textOf(await ftp.cmd('STAT'))); i++)
    assert.ok(i < 500, 'the server never read the upload');
  return conn;
}
