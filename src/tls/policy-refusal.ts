/**
 * A handshake OpenSSL refused only for the server's TLS policy: the client's ClientHello was whole
 * and well-formed, but offered no version (tlsMinVersion) or no cipher suite (tlsCiphers) the server
 * allows. Such a client is an old one, not an attacker: the defender does not score it, and the log
 * says what it offered and which setting would let it in.
 */
import { offeredSuites } from './client-hello-offer.js';

export type PolicySetting = 'tlsMinVersion' | 'tlsCiphers';

/** Node's codes for OpenSSL's SSL_R_UNSUPPORTED_PROTOCOL and SSL_R_NO_SHARED_CIPHER. */
const SETTINGS: Readonly<Record<string, PolicySetting>> = {
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'tlsMinVersion',
  ERR_SSL_NO_SHARED_CIPHER: 'tlsCiphers',
};

/** At most this many suites are logged (a client may offer a hundred). */
const MAX_LOGGED_CIPHERS = 30;

export interface PolicyRefusal {
  readonly setting: PolicySetting;
  /** The log line's message: one per setting, so that repeats from one address are rate-limited. */
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** The setting that refused the handshake failing with `err`, or undefined for any other failure. */
export function refusingSetting(err: unknown): PolicySetting | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && code in SETTINGS) return SETTINGS[code];
  }
  return undefined;
}

/**
 * What to log of a handshake refused by policy, from its error and the bytes the client sent (its
 * ClientHello); undefined when it failed otherwise. `minVersion`: the server's tlsMinVersion.
 */
export function policyRefusal(err: unknown, hello: Buffer, minVersion: string): PolicyRefusal | undefined {
  const setting = refusingSetting(err);
  if (!setting) return undefined;
  const offered = offeredSuites(hello);
  const ciphers = offered?.ciphers;
  const fields = {
    setting,
    offeredVersions: offered?.versions ?? 'unknown (ClientHello not kept whole)',
    offeredCiphers:
      ciphers === undefined
        ? 'unknown (ClientHello not kept whole)'
        : ciphers.length > MAX_LOGGED_CIPHERS
          ? [...ciphers.slice(0, MAX_LOGGED_CIPHERS), `… ${ciphers.length - MAX_LOGGED_CIPHERS} more`]
          : ciphers,
    tlsMinVersion: minVersion,
  };
  const msg =
    setting === 'tlsMinVersion'
      ? 'TLS handshake refused: the client offers only TLS versions below tlsMinVersion (--tls-min); not scored by the defender'
      : 'TLS handshake refused: the client offers no cipher suite of tlsCiphers (the defaults, or the config file list); not scored by the defender';
  return { setting, msg, fields };
}
