import type * as tls from 'node:tls';
import { FerryError } from '../../errors.js';
import { Code } from '../../protocol/codes.js';
import { parseFeatures } from '../../protocol/features.js';
import { isNegative, isPositiveCompletion, replyLine, type Reply } from '../../protocol/reply.js';
import { ClientControlConnection, type ControlOptions, type ProtocolLogger } from '../control.js';
import { CertificateError, ConnectionError, LoginError } from '../errors.js';
import { describeUntrusted, NO_TRUSTED_ISSUER } from '../certificate-faults.js';
import { checkServerCertificate, serverKey, type TrustDecision, type TrustOptions } from '../trust.js';
import type { Security } from '../url.js';

/**
 * The probe's control connections. Each check that could leave a session in a doubtful state (a
 * refused AUTH that the server accepted after all, a REIN, a transfer cut short) gets a connection
 * of its own, so one server quirk never spoils the next check.
 */

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly security: Security;
  readonly user: string;
  readonly password: string;
  /** SNI and certificate name; undefined for an IP address. */
  readonly servername: string | undefined;
  /** CA certificates (PEM) to judge the certificate chain against instead of the system's. */
  readonly ca: Buffer | undefined;
  /**
   * How the server's certificate is judged before a password is sent (the other commands' policy:
   * pins, known hosts, insecure; the CAs are `ca`'s or the system's); undefined for a login with no
   * secret to give away (anonymous), which goes whatever the certificate.
   */
  readonly trust: ProbeTrust | undefined;
  readonly timeoutMs: number;
  readonly log: ProtocolLogger | undefined;
  /** What this probe has learnt about being let in (shared by every connection of one probe). */
  readonly state: ProbeState;
  /** Aborted (SIGINT, SIGTERM): every connection of the probe is closed at once, and none is opened. */
  readonly signal?: AbortSignal;
  /** `--cert`/`--key`: the client certificate every TLS handshake of the probe presents. */
  readonly clientCertificate?: { readonly cert: Buffer; readonly key: Buffer };
}

export interface ProbeTrust {
  readonly policy: Pick<TrustOptions, 'insecure' | 'fingerprints' | 'knownHosts' | 'trustOnFirstUse'>;
  /** Told each login's decision: how the certificate was trusted, or why it was not (then no login). */
  readonly onDecision?: (d: TrustDecision | CertificateError) => void;
}

/** How the reason for the points not checked because the certificate is not trusted begins. */
export const NOT_TRUSTED = "not logged in: the server's certificate is not trusted";

/** How the reason for a check whose session the server refused (a per-user session limit) begins. */
export const SESSION_REFUSED = 'another session refused';

/** How the reason for the points not checked because the first session's TLS failed begins. */
export const TLS_FAILED = 'TLS failed';

/**
 * Thrown when a check cannot be done because the server stopped letting the probe in (a 421,
 * a refused or dropped connection), refused its login, or refused protected data connections: the
 * check's point is then "not completed" rather than a verdict on the server.
 */
export class NotCompletedError extends Error {
  constructor(readonly why: string) {
    super(why);
    this.name = 'NotCompletedError';
  }
}

/**
 * Why checks cannot run, learnt once and remembered: after a refusal (a defender's ban, a limit on
 * connections) the probe stops knocking, and after a refused login it does not try again (each
 * failed login scores against the prober's address on servers with a defender or fail2ban).
 */
export class ProbeState {
  /** Set once the first session is set up: from then on a refusal marks checks, it no longer ends the probe. */
  started = false;
  /**
   * `server refused the connection: 421 …` or `the server stopped answering (…)`: no connection is
   * attempted any more.
   */
  refused: string | undefined;
  /**
   * `login refused: 530 …`, or NOT_TRUSTED… (the probe did not send its password): checks that
   * need a logged-in session are not done.
   */
  noLogin: string | undefined;
  /** `PBSZ 0 / PROT P refused: …` (explicit FTPS): checks that need protected data are not done. */
  protRefused: string | undefined;
  /**
   * `TLS failed: …` (the first session's AUTH TLS refused or its handshake failed): no connection
   * tries TLS any more, only the checks in clear are done.
   */
  noTls: string | undefined;
  /** How many times a check was stopped, and the latest reason (check() compares the count). */
  stops = 0;
  lastStop = '';

  stop(why: string): never {
    this.stops++;
    this.lastStop = why;
    throw new NotCompletedError(why);
  }

  /**
   * Records that the server no longer serves the probe (`why`: what unavailable() found), seen
   * after the start (before it, the caller's error ends the probe).
   */
  halt(why: string): void {
    if (!this.started) return;
    this.refused ??= why;
    this.stop(this.refused);
  }
}

/** A reply that refuses service to this client (RFC 959 421: banned, too many connections, shutting down). */
function refusalReply(r: Reply): boolean {
  return r.code === Code.ServiceNotAvailable;
}

/** A connection the server ended or refused before any TLS (no alert): a refusal, or a server without TLS. */
export function droppedBeforeTls(err: unknown): boolean {
  // A timeout closes the connection too ("…; connection closed."): silence, not a refusal.
  if (timedOut(err)) return false;
  const e = err as { message?: string; cause?: unknown; code?: string; systemCode?: string };
  const text = `${e.message ?? ''} ${e.cause instanceof Error ? e.cause.message : ''}`;
  return (
    /ECONNRESET|ECONNREFUSED|EPIPE|socket disconnected before secure TLS|closed the control connection|Connection closed|Server closing the connection: 421/i.test(
      text,
    ) ||
    e.systemCode === 'ECONNREFUSED' ||
    e.systemCode === 'ECONNRESET'
  );
}

/**
 * TLS options for any connection of the probe: every version Node's OpenSSL can speak (TLS 1.0 and
 * 1.1 need security level 0), no rejection (the report judges the certificate, and login() before
 * a password goes), `extra` on top.
 */
export function probeTls(t: ProbeTarget, extra: tls.ConnectionOptions = {}): tls.ConnectionOptions {
  return {
    host: t.host,
    ...(t.servername !== undefined ? { servername: t.servername } : {}),
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.clientCertificate ? { cert: t.clientCertificate.cert, key: t.clientCertificate.key } : {}),
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
    rejectUnauthorized: false,
    ...extra,
  };
}

/** A report cell's longest reply text. */
const BRIEF_MAX = 120;

export function brief(r: Reply | undefined): string {
  if (!r) return 'no reply';
  const text = `${r.code} ${replyLine(r)}`;
  return text.length > BRIEF_MAX ? `${text.slice(0, BRIEF_MAX - 3)}...` : text;
}

export interface OpenOptions {
  /** Extra TLS options for the control connection (versions, ciphers). */
  readonly tls?: tls.ConnectionOptions;
  /** Explicit FTPS: the AUTH mechanism, or false to stay in clear. Default TLS. */
  readonly auth?: 'TLS' | 'SSL' | false;
  /** Log in (default true). */
  readonly login?: boolean;
  /** Told the greeting once it is read (a later failure of the connection still has it). */
  readonly onGreeting?: (greeting: Reply) => void;
  /** Told the reply to AUTH once it is read, accepted or refused (ftp://: is TLS offered?). */
  readonly onAuth?: (reply: Reply) => void;
}

export class ProbeConnection {
  private constructor(
    readonly target: ProbeTarget,
    readonly control: ClientControlConnection,
    readonly greeting: Reply,
  ) {}

  /** Connects (TLS first on implicit), reads the greeting, secures (explicit) and logs in. */
  static async open(t: ProbeTarget, o: OpenOptions = {}): Promise<ProbeConnection> {
    const st = t.state;
    if (st.refused !== undefined) st.stop(st.refused);
    if ((o.login ?? true) && st.noLogin !== undefined) st.stop(st.noLogin);
    const wantsTls = t.security === 'implicit' || (t.security === 'explicit' && o.auth !== false);
    if (wantsTls && st.noTls !== undefined) st.stop(st.noTls);
    let control: ClientControlConnection;
    try {
      control = await ClientControlConnection.connect(connectOptions(t, o.tls));
    } catch (err) {
      if (st.started && droppedBeforeTls(err)) {
        // Refused at TCP, or (implicit) dropped before the handshake: a ban, or only these TLS
        // options (or a passing fault)? A connection made as the probe's first one tells.
        const why = await unavailable(t);
        if (why !== undefined) st.halt(why);
      }
      throw err;
    }
    try {
      const greeting = await control.readFinal();
      o.onGreeting?.(greeting);
      if (greeting.code !== Code.ServiceReady) {
        if (isNegative(greeting)) st.halt(refusedBecause(brief(greeting)));
        throw new ConnectionError(`The server refused the connection: ${brief(greeting)}`);
      }
      const c = new ProbeConnection(t, control, greeting);
      const auth = o.auth ?? 'TLS';
      if (t.security === 'explicit' && auth !== false) await c.secure(auth, o.onAuth);
      if (o.login ?? true) await c.login();
      return c;
    } catch (err) {
      control.destroy();
      if (st.started && !(err instanceof NotCompletedError) && droppedBeforeTls(err)) {
        const why = await unavailable(t);
        if (why !== undefined) st.halt(why);
      }
      throw err;
    }
  }

  /** AUTH and the handshake on the control connection (explicit FTPS). */
  async secure(mech: 'TLS' | 'SSL', onReply?: (reply: Reply) => void): Promise<Reply> {
    const r = await this.control.request(`AUTH ${mech}`);
    onReply?.(r);
    if (r.code !== Code.SecurityExchangeComplete && r.code !== Code.SecurityMechanismAccepted)
      throw new FerryError('ERR_TLS', `The server refused AUTH ${mech}: ${brief(r)}`);
    await this.control.startTls();
    return r;
  }

  /**
   * USER and PASS, once the certificate is trusted. Once the probe has started, a refusal is
   * remembered (`login refused: 530 …`) and no later check logs in again: repeated failed logins
   * get an address banned.
   */
  async login(): Promise<void> {
    const st = this.target.state;
    if (st.noLogin !== undefined) st.stop(st.noLogin);
    await this.judgeCertificate();
    let r = await this.request(`USER ${this.target.user}`);
    if (r.code === Code.NeedPassword) r = await this.request(`PASS ${this.target.password}`);
    if (r.code !== Code.LoggedIn && r.code !== Code.NotImplementedSuperfluous) {
      // 421 to a login once the first one worked: the account's session limit (request() found the
      // server still greeting), not its password: only the check that needed this session is not done.
      if (st.started && r.code === Code.ServiceNotAvailable)
        throw new NotCompletedError(`${SESSION_REFUSED}: ${brief(r)}`);
      if (st.started) {
        st.noLogin ??= `login refused: ${brief(r)}`;
        st.stop(st.noLogin);
      }
      throw new LoginError(r.code, replyLine(r));
    }
  }

  /**
   * Every login of the probe comes here first: its connections take any certificate (the TLS
   * checks need that), so before a password goes the certificate is judged as the other commands
   * judge it. Not trusted: the reason is remembered and no connection logs in any more. Keys below
   * security level 2 pass: the probe offers TLS 1.0 at level 0, as `--tls-min 1.0` does elsewhere.
   */
  private async judgeCertificate(): Promise<void> {
    const { trust, host, port, servername, state } = this.target;
    if (trust === undefined) return;
    const server = serverKey(host, port);
    const sock = this.tlsSocket;
    try {
      if (!sock)
        throw new CertificateError('untrusted', server, '', `No TLS on the connection to ${server}.`);
      const opts = { ...trust.policy, hostname: servername ?? host, weakKeys: true };
      trust.onDecision?.(await checkServerCertificate(sock, server, opts));
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      trust.onDecision?.(err);
      const code = String(sock?.authorizationError ?? 'no TLS');
      const why =
        err.problem === 'fingerprint-mismatch'
          ? 'not the one pinned'
          : err.problem === 'key-changed'
            ? 'not the one recorded in the known-hosts file'
            : describeUntrusted(code);
      const hint = loginHint(err, code, this.target.ca !== undefined, trust.policy.knownHosts?.location);
      state.noLogin ??= `${NOT_TRUSTED} (${why}): ${hint}`;
      state.stop(state.noLogin);
    }
  }

  /**
   * Sends a command and returns its final reply. A 421 (service not available: banned, too many
   * connections, shutting down) is a refusal when a new connection is refused too.
   */
  async request(line: string): Promise<Reply> {
    const r = await this.control.request(line);
    if (refusalReply(r) && this.target.state.started) {
      const why = await unavailable(this.target);
      if (why !== undefined) this.target.state.halt(why);
    }
    return r;
  }

  /** FEAT as a map (empty when refused). */
  async features(): Promise<{ reply: Reply; map: Map<string, string> }> {
    const reply = await this.request('FEAT');
    return { reply, map: isPositiveCompletion(reply) ? parseFeatures(reply) : new Map() };
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.control.tlsSocket;
  }

  async close(): Promise<void> {
    await this.control.close();
  }

  destroy(): void {
    this.control.destroy();
  }
}

function connectOptions(t: ProbeTarget, extra?: tls.ConnectionOptions): ControlOptions {
  return {
    host: t.host,
    port: t.port,
    implicit: t.security === 'implicit',
    tlsOptions: probeTls(t, extra),
    connectTimeoutMs: t.timeoutMs,
    replyTimeoutMs: t.timeoutMs,
    handshakeTimeoutMs: t.timeoutMs,
    ...(t.log ? { log: t.log } : {}),
    ...(t.signal ? { signal: t.signal } : {}),
    return421: true,
  };
}

function describeDrop(err: unknown): string {
  const e = err as { message?: string; systemCode?: string; code?: string };
  const text = e.message ?? String(err);
  if (e.systemCode === 'ECONNREFUSED' || /ECONNREFUSED/.test(text))
    return 'connection refused (ECONNREFUSED)';
  if (/socket disconnected before secure TLS|ECONNRESET/i.test(text))
    return 'the connection was closed before the TLS handshake';
  return text.split('\n')[0] ?? text;
}

/** How a stop reason for a server that no longer answers begins (see stoppedAnswering()). */
const SILENT = 'the server stopped answering';

function refusedBecause(why: string): string {
  return `server refused the connection: ${why}`;
}

/** A timeout, also as the cause of another error (a TLS handshake's timeout is an ERR_TLS). */
export function timedOut(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (err instanceof FerryError && err.code === 'ERR_TIMEOUT') || timedOut(err.cause);
}

/**
 * Whether the server still serves this client, asked with a connection made as the probe's first
 * one (default TLS options, which worked at the start): undefined when it is greeted with 220;
 * `the server stopped answering (…)` when nothing came in time (stopped, hung, or a proxy that no
 * longer forwards); else `server refused the connection: …` (refused, dropped, or another greeting).
 */
export async function unavailable(t: ProbeTarget): Promise<string | undefined> {
  const silent = silence(t);
  let control: ClientControlConnection;
  try {
    control = await ClientControlConnection.connect(connectOptions(t));
  } catch (err) {
    return timedOut(err) ? silent : refusedBecause(describeDrop(err));
  }
  try {
    const greeting = await control.readFinal();
    return greeting.code === Code.ServiceReady ? undefined : refusedBecause(brief(greeting));
  } catch (err) {
    return timedOut(err) ? silent : refusedBecause(`no greeting: ${describeDrop(err)}`);
  } finally {
    control.destroy();
  }
}

/** The reason for a server that sent nothing within the probe's timeout. */
export function silence(t: Pick<ProbeTarget, 'timeoutMs'>): string {
  return `${SILENT} (no reply within ${t.timeoutMs} ms)`;
}

/** Whether `why` (from unavailable()) says the server stopped answering, rather than refused. */
export function stoppedAnswering(why: string | undefined): why is string {
  return why?.startsWith(SILENT) === true;
}

/** Runs `fn` on a fresh connection and always closes it. */
export async function withConnection<T>(
  t: ProbeTarget,
  o: OpenOptions,
  fn: (c: ProbeConnection) => Promise<T>,
): Promise<T> {
  const c = await ProbeConnection.open(t, o);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/**
 * What would let the probe log in, for why the certificate was not trusted (as the other commands
 * say it): only a missing CA is something --ca answers, and not when the --ca given was the one.
 */
function loginHint(
  err: CertificateError,
  code: string,
  caGiven: boolean,
  knownHosts: string | undefined,
): string {
  if (err.problem === 'fingerprint-mismatch')
    return 'check the --fingerprint given, or give --insecure to log in anyway';
  if (err.problem === 'key-changed')
    return `if the server really has a new certificate, remove its entry from ${knownHosts ?? 'the known-hosts file'}, or give --insecure to log in anyway`;
  if (!NO_TRUSTED_ISSUER.has(code))
    return 'pin it with --fingerprint if it is the right one, or give --insecure to log in anyway';
  return caGiven
    ? 'the --ca given does not vouch for it: give its CA with --ca, or --fingerprint or --insecure to log in anyway'
    : 'give --ca, --fingerprint or --insecure to log in anyway';
}
