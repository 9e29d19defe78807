import tls from 'node:tls';

/**
 * The server's suites, in the order it picks them (honorCipherOrder): forward-secret AEAD first,
 * then forward-secret CBC (Windows 7/2008 R2 schannel has no ECDHE-RSA-GCM), then RSA key exchange,
 * reached only by a client offering nothing better. TLS 1.3 keeps AES-256-GCM first.
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
  const list = p.ciphers ?? SERVER_CIPHERS;
  return {
    ciphers: OLD.includes(p.minVersion) ? `${list}:@SECLEVEL=0` : list,
    honorCipherOrder: true,
    dhparam: 'auto',
  };
}
