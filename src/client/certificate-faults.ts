/**
 * OpenSSL's verify results (a TLS socket's authorizationError) that a client explains, in words.
 * No imports: the trust policy (trust.ts) and the probe (probe/chain.ts, bundled apart) read it.
 */

/** Results that only say no trusted CA vouches for the certificate (pinning or TOFU may answer them). */
export const NO_TRUSTED_ISSUER: ReadonlyMap<string, string> = new Map([
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'issued by an untrusted self-signed CA'],
  ['UNABLE_TO_GET_ISSUER_CERT', 'issued by an unknown CA'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'issued by an unknown CA'],
  // The leaf's issuer is neither sent nor known: most often a server that omits its intermediate.
  [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'issued by an unknown CA, or the chain is incomplete (the server sent no intermediate)',
  ],
]);

/** A certificate outside its validity period: OpenSSL reports it last, so it may hide an untrusted issuer. */
export const OUT_OF_DATE: ReadonlyMap<string, string> = new Map([
  ['CERT_HAS_EXPIRED', 'expired'],
  ['CERT_NOT_YET_VALID', 'not yet valid'],
]);

const OTHER_FAULTS: ReadonlyMap<string, string> = new Map([
  ...OUT_OF_DATE,
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'issued for another host name'],
]);

/** `self-signed: DEPTH_ZERO_SELF_SIGNED_CERT` for a TLS socket's authorizationError. */
export function describeUntrusted(code: string): string {
  const words = NO_TRUSTED_ISSUER.get(code) ?? OTHER_FAULTS.get(code);
  return words === undefined ? code : `${words}: ${code}`;
}
