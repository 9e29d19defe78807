import * as tls from 'node:tls';
import { Secret } from '../auth/types.js';
import { FerryError, ReplyError } from '../errors.js';
import { Code } from '../protocol/codes.js';
import { isPositiveCompletion, replyLine, type Reply } from '../protocol/reply.js';
import { parseFeatures } from '../protocol/features.js';
import { ClientControlConnection } from './control.js';
import type { DataState } from './data-endpoint.js';
import { abortedError, ConnectionError, LoginError, NoGreetingError, ServerClosingError } from './errors.js';
import { selectMlstFacts } from './listing.js';
import { DEFAULTS, type ClientOptions } from './options.js';
import { command, parsePwdReply, protRefused, setProt, type ClientSession } from './session.js';
import { checkServerCertificate, serverKey } from './trust.js';
import { DEFAULT_PORTS, type Security } from './url.js';

/**
 * Connection setup: TCP and TLS (implicit: TLS first; explicit: AUTH TLS/SSL), the server's
 * certificate checked against the trust policy, login, and the session's settings (FEAT, UTF8,
 * PBSZ/PROT, TYPE I, PWD). Also the control connection's later changes of security: CCC and REIN.
 */

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * Base TLS options for the control and data connections. The certificates, versions and ciphers go
 * into one SecureContext shared by all of them: tls.connect() with `ca` builds a new OpenSSL context
 * per connection (parsing the CA certificates, fetching the algorithms), which cost more CPU than
 * the handshake itself for every small file.
 */
function tlsOptionsFor(opts: ClientOptions): tls.ConnectionOptions {
  const minVersion = opts.minTlsVersion ?? 'TLSv1.2';
  const legacy = minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
  const servername = opts.servername ?? (isIpAddress(opts.host) ? undefined : opts.host);
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext({
      ...(opts.ca !== undefined ? { ca: opts.ca as string | Buffer | (string | Buffer)[] } : {}),
      ...(opts.clientCertificate && { cert: opts.clientCertificate.cert, key: opts.clientCertificate.key }),
      minVersion,
      ...(opts.maxTlsVersion !== undefined ? { maxVersion: opts.maxTlsVersion } : {}),
      // TLS 1.0/1.1 need OpenSSL's lower security level; only when asked for. Otherwise level 2
      // (Node's is 1), as Debian's curl: no RSA key or DH group under 2048 bits (trust.ts says why).
      ciphers: legacy ? 'DEFAULT:@SECLEVEL=0' : `${tls.DEFAULT_CIPHERS}:@SECLEVEL=2`,
    });
  } catch (err) {
    throw new FerryError(
      'ERR_TLS',
      `Cannot use the TLS settings (ca, clientCertificate, TLS versions): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return {
    host: opts.host,
    ...(servername !== undefined ? { servername } : {}),
    secureContext,
    // The trust policy is applied after the handshake (pins, known hosts); see trust.ts.
    rejectUnauthorized: false,
  };
}

/**
 * What a protocol_version alert means given the versions offered. Offering 1.2 and 1.3 (the
 * default): a server below TLS 1.2. Offering only 1.3: a server whose highest is below it (1.2,
 * which the default allows), not a reason to go below 1.2. Otherwise it says too little to advise.
 */
function versionHint(opts: ClientOptions): string | undefined {
  if ((opts.maxTlsVersion ?? 'TLSv1.3') !== 'TLSv1.3') return undefined;
  const min = opts.minTlsVersion ?? 'TLSv1.2';
  if (min === 'TLSv1.2') return 'the server offers only TLS 1.0/1.1: --tls-min 1.0 allows it (weaker)';
  if (min === 'TLSv1.3')
    return "the server's highest TLS version is below 1.3, the --tls-min in force: the default, --tls-min 1.2, allows TLS 1.2";
  return undefined;
}

function controlPort(opts: ClientOptions, security: Security): number {
  return opts.port ?? (security === 'implicit' ? DEFAULT_PORTS.ftps : DEFAULT_PORTS.ftpes);
}

async function verify(opts: ClientOptions, security: Security, sock: tls.TLSSocket): Promise<void> {
  const server = serverKey(opts.host, controlPort(opts, security));
  const decision = await checkServerCertificate(sock, server, {
    insecure: opts.insecure,
    fingerprints: opts.fingerprints,
    knownHosts: opts.knownHosts,
    trustOnFirstUse: opts.trustOnFirstUse,
    hostname: opts.servername ?? opts.host,
    weakKeys: opts.minTlsVersion === 'TLSv1' || opts.minTlsVersion === 'TLSv1.1',
  });
  opts.onTrust?.(decision, server);
}

/** Connects, secures the control connection and logs in (options already validated). */
export async function openSession(options: ClientOptions): Promise<ClientSession> {
  // The password is kept where inspect() and JSON.stringify() cannot see it (REIN logs in again).
  const { password, ...o } = options;
  const security = o.security ?? 'explicit';
  const dataState: DataState = { noEpsv: o.disableEpsv ? 'disabled' : undefined, eprtRefused: false };
  const tlsOptions = tlsOptionsFor(o);
  const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  // connectTimeoutMs bounds the TCP connection, implicit FTPS's TLS handshake and the greeting.
  const started = Date.now();
  const control = await ClientControlConnection.connect({
    host: o.host,
    port: controlPort(o, security),
    implicit: security === 'implicit',
    tlsOptions,
    verify: (sock) => verify(o, security, sock),
    connectTimeoutMs,
    replyTimeoutMs: o.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? connectTimeoutMs,
    log: o.log,
    signal: o.signal,
    versionHint: versionHint(o),
  });
  const s: ClientSession = {
    opts: o,
    password: password === undefined ? undefined : new Secret(password),
    security,
    tlsOptions,
    dataState,
    control,
    featureMap: new Map(),
    prot: undefined,
    impliesProt: false,
    home: undefined,
  };
  try {
    await greetAndLogin(s, connectTimeoutMs - (Date.now() - started));
  } catch (err) {
    control.destroy(err instanceof FerryError ? err : undefined);
    // Aborted (o.signal): whatever the closed connection did to the step in progress.
    throw control.failure?.code === 'ERR_ABORTED' ? control.failure : err;
  } finally {
    control.loggedIn();
  }
  // Aborted as the last reply came: the caller no longer wants the session.
  if (o.signal?.aborted) {
    const e = abortedError(o.signal, 'Connecting aborted');
    control.destroy(e);
    throw e;
  }
  return s;
}

/**
 * Greeting, then AUTH (explicit), login, FEAT, UTF8, PBSZ/PROT, TYPE I, PWD. `connectLeftMs`: what
 * connectTimeoutMs leaves for the greeting when connecting (after REIN the reply timeout applies).
 */
async function greetAndLogin(s: ClientSession, connectLeftMs?: number): Promise<void> {
  const c = s.control;
  let greeting: Reply;
  try {
    greeting = await c.readFinal(connectLeftMs === undefined ? undefined : Math.max(1, connectLeftMs));
  } catch (err) {
    if (connectLeftMs !== undefined && err instanceof FerryError && err.code === 'ERR_TIMEOUT')
      throw noGreeting(s, err);
    throw err;
  }
  if (greeting.code !== Code.ServiceReady) {
    throw new ConnectionError(`The server refused the connection: ${greeting.code} ${replyLine(greeting)}`);
  }
  s.impliesProt = s.security === 'implicit' && impliesProtOnImplicit(greeting);
  await secureAndLogin(s);
}

/** No greeting within connectTimeoutMs: a silent server, or an implicit FTPS one (explicit asked). */
function noGreeting(s: ClientSession, cause: FerryError): NoGreetingError {
  const where = `${s.opts.host}:${controlPort(s.opts, s.security)}`;
  const limit = s.opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  // A hung explicit server is as likely as an implicit one: a possibility, not a diagnosis.
  const hint = s.security === 'implicit' ? undefined : 'if the server uses implicit FTPS, use ftps://';
  return new NoGreetingError(where, limit, hint, cause);
}

/**
 * Servers known to imply PBSZ 0 and PROT P on implicit FTPS (MS-FTPS 3.2.5.1), by their default
 * greeting: Ferry and IIS. Toward them the client keeps MS-FTPS 3.1.5.1 and sends neither.
 */
function impliesProtOnImplicit(greeting: Reply): boolean {
  return /^Ferry FTPS server\b|Microsoft FTP Service/.test(replyLine(greeting));
}

/**
 * Data protection on implicit FTPS. Servers that imply PROT P (above) get no PBSZ/PROT unless clear
 * data was asked for. Every other server gets PBSZ 0 and PROT P (or C) after login, as curl, lftp
 * and FileZilla send them: vsftpd, for one, takes clear data on implicit FTPS until it sees PROT P,
 * and would store a TLS ClientHello as the file. A refusal means the server allows no other level
 * than the implied one: data connections then use TLS all the same, never clear.
 */
async function implicitProt(s: ClientSession, wanted: 'P' | 'C'): Promise<void> {
  s.prot = 'P';
  if (s.impliesProt) {
    if (wanted === 'C') await setProt(s, 'C', false);
    return;
  }
  const c = s.control;
  const pbsz = await c.request('PBSZ 0');
  if (isPositiveCompletion(pbsz)) {
    const prot = await c.request(`PROT ${wanted}`);
    if (isPositiveCompletion(prot)) {
      s.prot = wanted;
      return;
    }
    if (wanted === 'C') throw protRefused('PROT C', prot);
    c.info(`PROT P refused on implicit FTPS (${prot.code}): taking it as implied; data stays on TLS.`);
  } else {
    if (wanted === 'C') throw protRefused('PBSZ 0', pbsz);
    c.info(`PBSZ refused on implicit FTPS (${pbsz.code}): taking PROT P as implied; data stays on TLS.`);
  }
}

async function secureAndLogin(s: ClientSession): Promise<void> {
  const c = s.control;
  if (s.security === 'explicit') {
    const mech = s.opts.authMechanism ?? 'TLS';
    const r = await c.request(`AUTH ${mech}`);
    if (r.code !== Code.SecurityExchangeComplete && r.code !== Code.SecurityMechanismAccepted) {
      throw new FerryError(
        'ERR_TLS',
        `The server refused AUTH ${mech}: ${r.code} ${replyLine(r)}${mech === 'TLS' ? ' (a legacy server may need AUTH SSL: --auth ssl)' : ''}`,
      );
    }
    await c.startTls();
  }
  s.prot = undefined;
  await login(s);
  const feat = await c.request('FEAT');
  s.featureMap = isPositiveCompletion(feat) ? parseFeatures(feat) : new Map();
  if ((s.opts.utf8 ?? true) && s.featureMap.has('UTF8')) await c.request('OPTS UTF8 ON');
  await selectMlstFacts(s);
  const wanted = s.opts.dataProtection === 'clear' ? 'C' : 'P';
  if (s.security === 'explicit') await setProt(s, wanted, true);
  else if (s.security === 'implicit') await implicitProt(s, wanted);
  const type = await c.request('TYPE I');
  if (!isPositiveCompletion(type)) throw new ReplyError(type.code, replyLine(type), 'TYPE I');
  const pwd = await c.request('PWD');
  s.home = pwd.code === Code.PathCreated ? parsePwdReply(pwd) : undefined;
}

async function login(s: ClientSession): Promise<void> {
  const c = s.control;
  const user = s.opts.user ?? 'anonymous';
  let r = await c.request(`USER ${user}`);
  // 232: logged in by the client certificate (RFC 2228); no password is sent then.
  if (r.code === Code.NeedPassword) {
    r = await c.request(`PASS ${s.password?.reveal() ?? ''}`).catch((err: unknown) => {
      // A password answered by closing for failed logins (or a ban) is a login refused, as a 530:
      // never sent again (a 421 that says try later, or too many connections, stays transient).
      if (err instanceof ServerClosingError && err.refusal === 'refused')
        throw new LoginError(Code.ServiceNotAvailable, err.replyText);
      throw err;
    });
  }
  if (r.code === Code.NeedAccount) throw new LoginError(r.code, `${replyLine(r)} (ACCT is not supported)`);
  if (
    r.code !== Code.LoggedIn &&
    r.code !== Code.LoggedInBySecurityExchange &&
    r.code !== Code.NotImplementedSuperfluous
  )
    throw new LoginError(r.code, replyLine(r));
}

/** CCC: the control connection continues in clear (the caller refuses it on implicit FTPS). */
export async function clearControl(s: ClientSession): Promise<Reply> {
  if (!s.control.secure) throw new FerryError('ERR_USAGE', 'The control connection is not encrypted.');
  const r = await command(s, 'CCC');
  await s.control.stopTls();
  s.control.info('Control connection in clear (CCC).');
  return r;
}

/** REIN, then TLS and login again on the same TCP connection (see FerryClient.reinitialize). */
export async function reinitialize(s: ClientSession): Promise<Reply> {
  const c = s.control;
  const rein = await command(s, 'REIN');
  if (c.secure) await c.stopTls();
  s.prot = undefined;
  s.featureMap = new Map();
  s.hashSelected = undefined;
  if (s.security === 'implicit') {
    // MS-FTPS 3.1.5.3: negotiate implicit FTPS again, then expect the greeting.
    await c.startTls();
    await greetAndLogin(s);
  } else {
    // The REIN reply stands for the greeting; explicit FTPS starts over with AUTH.
    await secureAndLogin(s);
  }
  return rein;
}
