import type tls from 'node:tls';
import { FerryError } from '../../errors.js';
import { Code } from '../../protocol/codes.js';
import { parseFeatures } from '../../protocol/features.js';
import { isPositiveCompletion, isPreliminary, replyLine, type Reply } from '../../protocol/reply.js';
import { ClientControlConnection, type ProtocolLogger } from '../control.js';
import { ConnectionError, LoginError } from '../errors.js';
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
  readonly timeoutMs: number;
  readonly log: ProtocolLogger | undefined;
}

/**
 * TLS options for any connection of the probe: every version Node's OpenSSL can speak (TLS 1.0 and
 * 1.1 need security level 0), no rejection (the report judges the certificate), `extra` on top.
 */
export function probeTls(t: ProbeTarget, extra: tls.ConnectionOptions = {}): tls.ConnectionOptions {
  return {
    host: t.host,
    ...(t.servername !== undefined ? { servername: t.servername } : {}),
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
    rejectUnauthorized: false,
    ...extra,
  };
}

/** `230 Logged in` in short: code and first line, at most 120 characters. */
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
}

export class ProbeConnection {
  private constructor(
    readonly target: ProbeTarget,
    readonly control: ClientControlConnection,
    readonly greeting: Reply,
  ) {}

  /** Connects (TLS first on implicit), reads the greeting, secures (explicit) and logs in. */
  static async open(t: ProbeTarget, o: OpenOptions = {}): Promise<ProbeConnection> {
    const control = await ClientControlConnection.connect({
      host: t.host,
      port: t.port,
      implicit: t.security === 'implicit',
      tlsOptions: probeTls(t, o.tls),
      connectTimeoutMs: t.timeoutMs,
      replyTimeoutMs: t.timeoutMs,
      handshakeTimeoutMs: t.timeoutMs,
      ...(t.log ? { log: t.log } : {}),
    });
    try {
      let greeting = await control.read();
      while (isPreliminary(greeting)) greeting = await control.read();
      if (greeting.code !== Code.ServiceReady)
        throw new ConnectionError(`The server refused the connection: ${brief(greeting)}`);
      const c = new ProbeConnection(t, control, greeting);
      const auth = o.auth ?? 'TLS';
      if (t.security === 'explicit' && auth !== false) await c.secure(auth);
      if (o.login ?? true) await c.login();
      return c;
    } catch (err) {
      control.destroy();
      throw err;
    }
  }

  /** AUTH and the handshake on the control connection (explicit FTPS). */
  async secure(mech: 'TLS' | 'SSL'): Promise<Reply> {
    const r = await this.control.request(`AUTH ${mech}`);
    if (r.code !== Code.SecurityExchangeComplete && r.code !== Code.SecurityMechanismAccepted)
      throw new FerryError('ERR_TLS', `The server refused AUTH ${mech}: ${brief(r)}`);
    await this.control.startTls();
    return r;
  }

  async login(): Promise<void> {
    let r = await this.control.request(`USER ${this.target.user}`);
    if (r.code === Code.NeedPassword) r = await this.control.request(`PASS ${this.target.password}`);
    if (r.code !== Code.LoggedIn && r.code !== Code.NotImplementedSuperfluous)
      throw new LoginError(r.code, replyLine(r));
  }

  request(line: string): Promise<Reply> {
    return this.control.request(line);
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
