/**
 * Reads the session identities a TLS ClientHello offers (RFC 8446 4.1.2, 4.2.11): the legacy
 * session ID (TLS 1.2 resumption by ID) and the PSK identities (TLS 1.3 tickets; with stateful
 * tickets each identity is the session ID the server gave that ticket). Node asks for a session to
 * resume by the legacy ID only, so the server needs this to find the session a TLS 1.3 client means.
 */
import { TLS_HANDSHAKE_RECORD } from '../protocol/tls-record.js';

export interface OfferedSessions {
  readonly sessionId: Buffer;
  readonly pskIdentities: readonly Buffer[];
  /** A TLS 1.2 session ticket (RFC 5077) is offered. */
  readonly ticket: boolean;
}

const CLIENT_HELLO = 1;
const SESSION_TICKET = 35;
const PRE_SHARED_KEY = 41;
/** Node's own ClientHello parser stops here too. */
export const MAX_CLIENT_HELLO = 16 * 1024;

/** The ClientHello's handshake message from the first records of `bytes`, once complete. */
export function helloMessage(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let have = 0;
  let need = Infinity;
  for (let at = 0; at + 5 <= bytes.length && have < need;) {
    if (bytes[at] !== TLS_HANDSHAKE_RECORD) return undefined;
    const len = bytes.readUInt16BE(at + 3);
    const fragment = bytes.subarray(at + 5, at + 5 + len);
    parts.push(fragment);
    have += fragment.length;
    if (need === Infinity && have >= 4) {
      const head = Buffer.concat(parts);
      if (head[0] !== CLIENT_HELLO) return undefined;
      need = 4 + head.readUIntBE(1, 3);
    }
    at += 5 + len;
  }
  return have >= need ? Buffer.concat(parts).subarray(0, need) : undefined;
}

/** The bytes hold a whole ClientHello, or cannot become one: nothing more to wait for. */
export function clientHelloSettled(bytes: Buffer): boolean {
  if (bytes.length >= MAX_CLIENT_HELLO + 5) return true;
  if (bytes.length > 0 && bytes[0] !== TLS_HANDSHAKE_RECORD) return true;
  if (bytes.length > 5 && bytes[5] !== CLIENT_HELLO) return true;
  return helloMessage(bytes) !== undefined;
}

/** undefined while the ClientHello is incomplete, or when the bytes are not one. */
export function offeredSessions(bytes: Buffer): OfferedSessions | undefined {
  const msg = helloMessage(bytes);
  if (!msg) return undefined;
  const r = new Reader(msg.subarray(4));
  r.skip(2 + 32); // legacy_version, random
  const sessionId = r.vector(1);
  r.vector(2); // cipher_suites
  r.vector(1); // legacy_compression_methods
  const pskIdentities: Buffer[] = [];
  let ticket = false;
  if (r.left > 0) {
    const ext = new Reader(r.vector(2));
    while (ext.left > 0) {
      const type = ext.u16();
      const data = ext.vector(2);
      if (type === SESSION_TICKET) ticket = data.length > 0;
      if (type !== PRE_SHARED_KEY) continue;
      const ids = new Reader(new Reader(data).vector(2));
      while (ids.left > 0) {
        pskIdentities.push(ids.vector(2));
        ids.skip(4); // obfuscated_ticket_age
      }
      if (!ids.ok) return undefined;
    }
    if (!ext.ok) return undefined;
  }
  return r.ok ? { sessionId, pskIdentities, ticket } : undefined;
}

/** Bounds-checked reads; a read past the end marks the reader bad and yields empty buffers. */
export class Reader {
  private at = 0;
  ok = true;
  constructor(private readonly buf: Buffer) {}
  get left(): number {
    return this.ok ? this.buf.length - this.at : 0;
  }
  skip(n: number): void {
    if (this.at + n > this.buf.length) this.ok = false;
    this.at += n;
  }
  u16(): number {
    if (this.at + 2 > this.buf.length) {
      this.ok = false;
      return 0;
    }
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  vector(lengthBytes: 1 | 2): Buffer {
    if (this.at + lengthBytes > this.buf.length) {
      this.ok = false;
      return Buffer.alloc(0);
    }
    const len = this.buf.readUIntBE(this.at, lengthBytes);
    const start = this.at + lengthBytes;
    this.at = start + len;
    if (this.at > this.buf.length) {
      this.ok = false;
      return Buffer.alloc(0);
    }
    return this.buf.subarray(start, this.at);
  }
}

/**
 * The ClientHello named no session at all: no PSK, no TLS 1.2 ticket, and (under TLS 1.2, where it
 * names one) no legacy session ID. A client that offers none cannot resume (stock Python ftplib);
 * one that offers a session, even a wrong one, might still send the right one next.
 */
export function offeredNoSession(offered: OfferedSessions | undefined, protocol: string | null): boolean {
  if (!offered || offered.ticket || offered.pskIdentities.length > 0) return false;
  // TLS 1.3 clients send a random legacy ID (middlebox compatibility): it names no session.
  return protocol === 'TLSv1.3' || offered.sessionId.length === 0;
}

/**
 * Why a data connection's handshake resumed none of its control connection's sessions, for the
 * administrator: what the ClientHello offered, and what makes such a client work.
 */
export function notResumedBecause(offered: OfferedSessions | undefined, protocol: string | null): string {
  const foreign =
    "it offered a TLS session its control connection did not issue (another connection's, or one no longer kept): clients that share one session cache between connections (rclone with several transfers) need --session-reuse-scope user, or --no-require-reuse";
  if (!offered) return 'its ClientHello could not be read';
  if (offeredNoSession(offered, protocol)) return 'it offered no TLS session (a full handshake)';
  if (protocol === 'TLSv1.3' && offered.pskIdentities.length > 0) {
    if (offered.sessionId.length === 0)
      return "it offered a TLS 1.3 session without a legacy session ID, which Node cannot look up (Ruby's Net::FTP: add OpenSSL::SSL::OP_ENABLE_MIDDLEBOX_COMPAT to its options, or cap it at TLS 1.2)";
    return foreign;
  }
  if (offered.ticket)
    return 'it offered a TLS 1.2 session ticket, and Ferry resumes TLS 1.2 by session ID only (Go clients such as rclone with --ftp-disable-tls13: use TLS 1.3)';
  return foreign;
}
