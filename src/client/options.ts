import type * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { caProblem } from './ca-certificates.js';
import type { ProtocolLogger } from './control.js';
import { keysOf, refuseUnknownKeys } from './option-keys.js';
import { normalizeFingerprint, type KnownHostsStore, type TrustDecision } from './trust.js';
import { parseFtpUrl, resolveCredentials, type CredentialSources, type Security } from './url.js';

/** FerryClient's options: what to connect to, how to secure it, and how long to wait. */

export interface ClientOptions {
  readonly host: string;
  /** Default: 990 for implicit, 21 otherwise. */
  readonly port?: number;
  /** 'implicit' (TLS first, ftps://), 'explicit' (AUTH TLS, ftpes://; the default) or 'none' (plain FTP). */
  readonly security?: Security;
  /** Required for security 'none': plain FTP sends the password in clear. */
  readonly allowPlain?: boolean;
  /** Default 'anonymous'. */
  readonly user?: string;
  readonly password?: string;
  /** AUTH TLS (default) or AUTH SSL (legacy servers, MS-FTPS 3.1.5.4). Explicit FTPS only. */
  readonly authMechanism?: 'TLS' | 'SSL';
  /** PROT P (default) or PROT C (data in clear). */
  readonly dataProtection?: 'private' | 'clear';
  /** Passive (EPSV, then PASV; default) or active (EPRT, then PORT). */
  readonly dataMode?: 'passive' | 'active';
  /** Passive mode with PASV only (no EPSV), e.g. for a middlebox that only knows PASV. */
  readonly disableEpsv?: boolean;
  /**
   * Trusted CA certificates (PEM) instead of the system's; each string or Buffer must hold at least
   * one certificate, all readable (else ERR_INVALID_OPTION: Node would skip it without a word).
   */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /**
   * A certificate (PEM, with its intermediates if any) and its private key to present when the
   * server asks (mutual TLS: a server may log the user in by it, or require it with the password).
   */
  readonly clientCertificate?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Skip all certificate checks. */
  readonly insecure?: boolean;
  /** Accept exactly these certificates (`sha256:AB:…`). */
  readonly fingerprints?: readonly string[];
  /** Known-hosts store for certificates no CA vouches for (trust on first use). */
  readonly knownHosts?: KnownHostsStore;
  /**
   * Record an unknown server in `knownHosts`: a self-signed certificate (accepted) by its fingerprint,
   * a CA-verified one as such (a certificate no CA vouches for is then refused).
   */
  readonly trustOnFirstUse?: boolean;
  /** Lowest TLS version; default TLSv1.2 (TLSv1 and TLSv1.1 only when asked). */
  readonly minTlsVersion?: tls.SecureVersion;
  readonly maxTlsVersion?: tls.SecureVersion;
  /** SNI and certificate name; default the host (unless it is an IP address). */
  readonly servername?: string;
  /** Send `OPTS UTF8 ON` when the server offers UTF8 (default true). */
  readonly utf8?: boolean;
  /**
   * Connecting, up to the greeting: the TCP connection, implicit FTPS's TLS handshake and the
   * greeting together (default 15 s; ConnectionError ERR_TIMEOUT). Also each data connection's
   * connect and its TLS handshake.
   */
  readonly connectTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
  /** A data connection without traffic for this long fails the transfer. */
  readonly dataTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /**
   * The most bytes of listing text one listing (list(), listRaw(), a mirror's directory) may take
   * (default 128 MiB); a larger one fails with ERR_LIMIT.
   */
  readonly maxListingBytes?: number;
  /**
   * The most entries (lines) one listing may have, and a mirror's walk of the remote tree in all
   * (default 1,000,000: ~460 MB of heap once parsed); more fails with ERR_LIMIT.
   */
  readonly maxListingEntries?: number;
  /** Sees the command/reply dialogue (PASS masked). */
  readonly log?: ProtocolLogger;
  /** Told how the server's certificate was trusted (e.g. to announce a first use). */
  readonly onTrust?: (decision: TrustDecision, server: string) => void;
  /** Cancels connecting and logging in. */
  readonly signal?: AbortSignal;
}

const CLIENT_OPTION_KEYS = keysOf<ClientOptions>({
  host: true,
  port: true,
  security: true,
  allowPlain: true,
  user: true,
  password: true,
  authMechanism: true,
  dataProtection: true,
  dataMode: true,
  disableEpsv: true,
  ca: true,
  clientCertificate: true,
  insecure: true,
  fingerprints: true,
  knownHosts: true,
  trustOnFirstUse: true,
  minTlsVersion: true,
  maxTlsVersion: true,
  servername: true,
  utf8: true,
  connectTimeoutMs: true,
  replyTimeoutMs: true,
  dataTimeoutMs: true,
  handshakeTimeoutMs: true,
  maxListingBytes: true,
  maxListingEntries: true,
  log: true,
  onTrust: true,
  signal: true,
});

/** Node's timers wait at most this long: a longer delay fires after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const DEFAULTS = {
  connectTimeoutMs: 15_000,
  replyTimeoutMs: 30_000,
  dataTimeoutMs: 60_000,
  // 128 bytes a line at the entry cap: a listing within both stays within ~1 GB of heap at worst.
  maxListingBytes: 128 * 1024 * 1024,
  maxListingEntries: 1_000_000,
};

/**
 * The options for a connect() target: a URL gives scheme, host, port and user (its path is
 * ignored); the password comes from the URL, FERRY_PASSWORD or ~/.netrc. `options` add to or
 * override it. A key that is no option is refused, before anything is looked up.
 */
export async function resolveClientOptions(
  target: string | ClientOptions,
  options: Partial<ClientOptions> & { credentials?: CredentialSources },
): Promise<ClientOptions> {
  if (typeof target !== 'string') refuseUnknownKeys(target, CLIENT_OPTION_KEYS, 'options');
  refuseUnknownKeys(options, [...CLIENT_OPTION_KEYS, 'credentials'], 'options');
  let o: ClientOptions;
  if (typeof target === 'string') {
    const u = parseFtpUrl(target);
    const user = options.user ?? u.user;
    const creds =
      options.password !== undefined
        ? { user: user ?? 'anonymous', password: options.password }
        : await resolveCredentials(
            { host: u.host, user, password: u.password },
            { ...options.credentials, clientCertificate: options.clientCertificate !== undefined },
          );
    o = {
      host: u.host,
      port: u.port,
      security: u.security,
      ...options,
      user: creds.user,
      password: creds.password,
    };
    if (u.security === 'none' && options.allowPlain === undefined) o = { ...o, allowPlain: false };
  } else {
    o = { ...target, ...options };
  }
  return o;
}

export function validate(o: ClientOptions): void {
  const bad = (key: string, msg: string): never => {
    throw new FerryError('ERR_INVALID_OPTION', `options.${key}: ${msg}`);
  };
  if (typeof o.host !== 'string' || o.host === '') bad('host', 'a host name or address is required.');
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) {
    bad('port', 'must be an integer from 1 to 65535.');
  }
  if (o.security !== undefined && !['implicit', 'explicit', 'none'].includes(o.security)) {
    bad('security', "must be 'implicit', 'explicit' or 'none'.");
  }
  if (o.security === 'none' && !o.allowPlain) {
    bad('allowPlain', 'plain FTP sends the password in clear; set allowPlain: true to really do that.');
  }
  if (o.authMechanism !== undefined && o.authMechanism !== 'TLS' && o.authMechanism !== 'SSL') {
    bad('authMechanism', "must be 'TLS' or 'SSL'.");
  }
  if (o.authMechanism === 'SSL' && o.security === 'implicit') {
    bad('authMechanism', 'AUTH is never sent on implicit FTPS (MS-FTPS 3.1.5.6).');
  }
  for (const key of ['connectTimeoutMs', 'replyTimeoutMs', 'dataTimeoutMs', 'handshakeTimeoutMs'] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0))
      bad(key, 'must be a positive number of milliseconds.');
    if (v !== undefined && v > MAX_TIMER_MS)
      bad(key, `at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a Node.js timer waits).`);
  }
  // Checked when the certificate is, after the handshake, otherwise.
  for (const fp of o.fingerprints ?? []) {
    try {
      normalizeFingerprint(fp);
    } catch (err) {
      bad('fingerprints', err instanceof Error ? err.message : String(err));
    }
  }
  if (o.maxListingBytes !== undefined && (!Number.isSafeInteger(o.maxListingBytes) || o.maxListingBytes <= 0))
    bad('maxListingBytes', 'must be a positive integer (bytes).');
  if (
    o.maxListingEntries !== undefined &&
    (!Number.isSafeInteger(o.maxListingEntries) || o.maxListingEntries <= 0)
  )
    bad('maxListingEntries', 'must be a positive integer (entries).');
  if (o.clientCertificate !== undefined && (!o.clientCertificate.cert || !o.clientCertificate.key)) {
    bad('clientCertificate', 'give both cert and key (PEM).');
  }
  if (o.trustOnFirstUse && !o.knownHosts) bad('knownHosts', 'trustOnFirstUse needs a knownHosts store.');
  // Node would skip a CA without a certificate silently, and trust nothing from it.
  const cas = o.ca === undefined ? [] : Array.isArray(o.ca) ? o.ca : [o.ca];
  for (const [i, ca] of cas.entries()) {
    const problem = caProblem(ca, Array.isArray(o.ca) ? `options.ca[${i}]` : 'options.ca');
    if (problem !== undefined) throw new FerryError('ERR_INVALID_OPTION', problem);
  }
}
