import * as tls from 'node:tls';

/**
 * The server's suites, in the order it picks them (honorCipherOrder): forward-secret AEAD first,
 * then forward-secret CBC (Windows 7/2008 R2 schannel has no ECDHE-RSA-GCM). TLS 1.3 keeps
 * AES-256-GCM first. No RSA key exchange (no forward secrecy): every TLS 1.2 client has ECDHE.
 */
export const SERVER_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
].join(':');

/**
 * RSA key exchange, last, only while TLS 1.0/1.1 are allowed: the clients that need those (Windows
 * XP's schannel, old Java and mainframe stacks) may have nothing else.
 */
const LEGACY_CIPHERS = [
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
  'AES256-SHA256',
  'AES128-SHA256',
  'AES256-SHA',
  'AES128-SHA',
].join(':');

type Version = tls.SecureVersion;

const OLD: readonly Version[] = ['TLSv1', 'TLSv1.1'];

/**
 * The context's cipher options: the operator's list or Ferry's, in the server's order; DHE
 * parameters sized to the certificate (without them DHE suites never match). TLS 1.0/1.1 need
 * OpenSSL's security level 0 (their signatures use SHA-1), which holds for the whole context.
 */
export function cipherOptions(p: {
  minVersion: Version;
  ciphers?: string;
}): Pick<tls.SecureContextOptions, 'ciphers' | 'honorCipherOrder' | 'dhparam'> {
  const old = OLD.includes(p.minVersion);
  const list = serverCipherList(p.ciphers, p.minVersion);
  return {
    ciphers: old ? `${list}:@SECLEVEL=0` : list,
    honorCipherOrder: true,
    dhparam: 'auto',
  };
}

/**
 * The server's list: Ferry's (RSA key exchange added while TLS 1.0/1.1 are allowed), the operator's
 * in its place, or Ferry's followed by the operator's suites when that list starts with `+`
 * (`+AES128-SHA:AES256-SHA`, for an old TLS 1.2 client with RSA key exchange only). OpenSSL gives a
 * leading `+` no use (it moves suites already listed to the end, and none is listed yet).
 */
export function serverCipherList(ciphers: string | undefined, minVersion: Version): string {
  const defaults = OLD.includes(minVersion) ? `${SERVER_CIPHERS}:${LEGACY_CIPHERS}` : SERVER_CIPHERS;
  if (ciphers === undefined) return defaults;
  return ciphers.startsWith('+') ? `${defaults}:${ciphers.slice(1)}` : ciphers;
}

/**
 * Said at start and reload while TLS 1.0/1.1 are allowed: the security level is the context's, so
 * the TLS 1.2 clients get it too.
 */
export function oldVersionsWarning(minVersion: Version): string | undefined {
  if (!OLD.includes(minVersion)) return undefined;
  const from = minVersion === 'TLSv1' ? '1.0' : '1.1';
  return `TLS ${from} and up are allowed (tls-min ${from}): OpenSSL's security level 0 this needs weakens TLS 1.2 for all clients too (SHA-1 signatures, short keys accepted)`;
}

/** Authentication aliases other than the one a certificate's key type serves (OpenSSL's names). */
const OTHER_AUTH: Readonly<Record<'rsa' | 'ec', string>> = {
  rsa: '!aECDSA:!aDSS:!aNULL:!aPSK:!aSRP:!aGOST01:!aGOST12',
  ec: '!aRSA:!aDSS:!aNULL:!aPSK:!aSRP:!aGOST01:!aGOST12',
};

/**
 * What is wrong with an operator's cipher list for TLS 1.2 (checked names only, once): it names
 * only TLS 1.3 suites (which turns TLS 1.2 off), or none of its TLS 1.2 suites can be used with the
 * certificates' keys (`keyTypes` as node:crypto names them), or none with one of them: one line
 * for each such key type. Either way TLS 1.2 clients (or those of that key type) are refused.
 */
export function cipherWarnings(
  ciphers: string | undefined,
  minVersion: Version,
  keyTypes: readonly string[],
): string[] {
  // Added to Ferry's (a leading `+`): the defaults serve every key type already.
  if (ciphers === undefined || ciphers.startsWith('+') || minVersion === 'TLSv1.3') return [];
  const older = ciphers.split(':').filter((c) => c !== '' && !/^!?TLS_/.test(c));
  if (older.length === 0)
    return [`tlsCiphers names only TLS 1.3 suites: TLS 1.2 is off, clients without TLS 1.3 are refused`];
  const auths = new Set(keyTypes.map((t) => (t === 'ec' || t === 'ed25519' || t === 'ed448' ? 'ec' : 'rsa')));
  // OpenSSL fails a list left with no suite: the operator's, less those for other keys' types.
  const unusable = [...auths].filter((a) => {
    try {
      tls.createSecureContext({ ciphers: `${OTHER_AUTH[a]}:${older.join(':')}` });
      return false;
    } catch {
      return true;
    }
  });
  const name = (a: 'rsa' | 'ec'): string => (a === 'ec' ? 'ECDSA' : 'RSA');
  if (unusable.length === 0) return [];
  if (unusable.length === auths.size)
    return [
      `tlsCiphers has no TLS 1.2 suite usable with the ${unusable.map(name).join(' and ')} certificate: TLS 1.2 clients are refused (no shared cipher)`,
    ];
  // Each certificate a client may need alone (an ECDSA-only client beside an RSA certificate).
  return unusable.map(
    (a) =>
      `tlsCiphers has no TLS 1.2 suite usable with the ${name(a)} certificate: TLS 1.2 clients that take only ${name(a)} are refused (no shared cipher); add an ECDHE-${name(a)} suite`,
  );
}
