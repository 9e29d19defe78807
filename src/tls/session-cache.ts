import * as net from 'node:net';
import type * as tls from 'node:tls';
import { offeredSessions } from './client-hello.js';

type Store = Map<string, Buffer>;
type NewSession = (id: Buffer, data: Buffer, done: () => void) => void;
type ResumeSession = (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => void;

/**
 * Sessions kept per family: those of the control handshake, and the most recently issued or resumed
 * from data connections (a client may offer one session on every upload while each issues a ticket
 * it never reads: the one in use must outlive them).
 */
const MAX_CONTROL = 4;
const MAX_DATA = 8;

/**
 * The TLS sessions of one control connection (one TLS handshake on it) and of its data
 * connections. A data connection may resume any of them (the control session, or a newer one
 * issued on an earlier data connection: OpenSSL-based clients such as curl use each TLS 1.3 ticket
 * once and offer the newest) and nothing else; that is how the server knows a data connection
 * belongs to this client (like vsftpd's require_ssl_reuse, where each session is its own process).
 * Under --session-reuse-scope user it may also resume its siblings' (dataHub's `siblings`).
 *
 * The server's one SecureContext disables stateless tickets (SSL_OP_NO_TICKET), so every session
 * OpenSSL issues, TLS 1.2 session ID or TLS 1.3 ticket, comes out through 'newSession' and can only
 * be resumed through 'resumeSession', i.e. from the store of the family that issued it; OpenSSL
 * then also issues a fresh ticket on each resumed TLS 1.3 connection. Node names the session to
 * resume by the ClientHello's legacy session ID only, so for TLS 1.3 the PSK identity is read from
 * the ClientHello itself (TLS 1.3 clients send a legacy session ID in middlebox-compatibility mode,
 * the default of OpenSSL, GnuTLS, Go, rustls; without one Node never asks, and they get a full
 * handshake).
 */
/**
 * The families a data connection may resume besides its own (--session-reuse-scope user): those of
 * its user's other logged-in control connections from its address (`now`), and, for a session none
 * of them issued, one issued to a control connection from that address still logging in (`later`:
 * the session once that login ends as the same user, else undefined).
 */
export interface Siblings {
  now(): Iterable<SessionFamily>;
  later(id: Buffer): Promise<Buffer | undefined>;
}

export class SessionFamily {
  private readonly control: Store = new Map();
  private readonly data: Store = new Map();

  constructor(readonly context: tls.SecureContext) {}

  /** The `server` hub for the control connection's TLS socket: keeps what it issues, resumes nothing. */
  controlHub(): net.Server {
    return hub((id, data, done) => {
      remember(this.control, id, data, MAX_CONTROL);
      done();
    });
  }

  /**
   * The `server` hub for one data connection; `hello` gives the bytes of its ClientHello (and stops
   * reading them, if that was still going on). `siblings`, when given, are other families whose
   * sessions it may resume too (--session-reuse-scope user), tried after its own; the handshake
   * waits for a sibling still logging in (its ticket may reach a client's shared cache first).
   * After the handshake, `settle(true)` when it resumed one of ours: only then do the sessions issued
   * to it join the family (a full handshake by anyone must not yield a session that resumes later).
   */
  dataHub(
    hello: () => Buffer,
    siblings?: Siblings,
  ): {
    readonly hub: net.Server;
    /** Resolves once a session (ticket) has been issued on the connection. */
    readonly issued: Promise<void>;
    settle(accepted: boolean): void;
  } {
    let accepted = false;
    const pending: [Buffer, Buffer][] = [];
    let onIssued!: () => void;
    const issued = new Promise<void>((resolve) => (onIssued = resolve));
    const h = hub(
      (id, data, done) => {
        if (accepted) remember(this.data, id, data, MAX_DATA);
        else pending.push([id, data]);
        done();
        setImmediate(onIssued); // once Node has handed the ticket to the transport
      },
      (legacyId, done) => {
        const offered = offeredSessions(hello());
        // OpenSSL asks for the first PSK identity only; the legacy ID counts only without PSKs (TLS 1.2).
        const id = offered?.pskIdentities[0] ?? legacyId;
        const found = this.find(id) ?? (siblings && findIn(siblings.now(), id));
        if (found || !siblings) return done(null, found ?? null);
        siblings.later(id).then(
          (data) => done(null, data ?? null),
          () => done(null, null),
        );
      },
    );
    return {
      hub: h,
      issued,
      settle: (ok) => {
        hello(); // stops reading
        accepted = ok;
        for (const [id, data] of pending.splice(0)) if (ok) remember(this.data, id, data, MAX_DATA);
      },
    };
  }

  /**
   * The session `id` if this family issued it (and still keeps it). Looked up to be resumed, it
   * becomes the newest of its store: the last to be evicted.
   */
  find(id: Buffer): Buffer | undefined {
    const key = id.toString('hex');
    return refresh(this.control, key) ?? refresh(this.data, key);
  }
}

function findIn(families: Iterable<SessionFamily>, id: Buffer): Buffer | undefined {
  for (const f of families) {
    const found = f.find(id);
    if (found) return found;
  }
  return undefined;
}

function hub(onNew: NewSession, onResume?: ResumeSession): net.Server {
  const h = new net.Server();
  h.on('newSession', onNew);
  if (onResume) h.on('resumeSession', onResume);
  // A TLS error before the handshake completes is reported here, not on the socket: end it now so
  // whoever waits for the handshake hears at once.
  h.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => socket.destroy(err));
  return h;
}

/** Keeps a session; beyond `max`, forgets the least recently issued or resumed (Map order). */
function remember(store: Store, id: Buffer, data: Buffer, max: number): void {
  store.set(id.toString('hex'), data);
  if (store.size > max) {
    const oldest = store.keys().next().value;
    if (oldest !== undefined) store.delete(oldest);
  }
}

/** The session under `key`, moved to the newest end of `store`. */
function refresh(store: Store, key: string): Buffer | undefined {
  const data = store.get(key);
  if (data === undefined) return undefined;
  store.delete(key);
  store.set(key, data);
  return data;
}
