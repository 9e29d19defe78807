/**
 * The alerts a TLS client sends when it does not accept the server's certificate (RFC 5246 §7.2.2):
 * it does not trust the issuer (unknown_ca: Ferry's self-signed default, curl without --cacert),
 * or finds the certificate expired, revoked or unusable. OpenSSL reports a received alert by its
 * reason, which Node turns into the error's code.
 */
const CERTIFICATE_ALERTS: Readonly<Record<string, string>> = {
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'bad_certificate (42)',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'unsupported_certificate (43)',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: 'certificate_revoked (44)',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'certificate_expired (45)',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'certificate_unknown (46)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'unknown_ca (48)',
};

/** The certificate alert (`unknown_ca (48)`) that ended a handshake, from its error or a cause of it. */
export function certificateAlert(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && Object.hasOwn(CERTIFICATE_ALERTS, code)) return CERTIFICATE_ALERTS[code];
  }
  return undefined;
}
