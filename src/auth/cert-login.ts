import type { Account } from './account.js';
import type { ClientCertificate } from './types.js';

/**
 * How a client certificate takes part in a user's login:
 * - `cert-and-password`: a matching certificate AND the password (the default once a certificate
 *   is pinned; like vsftpd's require_cert with a password);
 * - `cert-only`: a matching certificate replaces the password (USER → 232), and without one the
 *   user cannot log in at all;
 * - `cert-or-password`: a matching certificate replaces the password; without one the password
 *   works as for any user (ProFTPD's AllowDotLogin).
 */
export const CERT_LOGIN_MODES = ['cert-and-password', 'cert-only', 'cert-or-password'] as const;
export type CertLogin = (typeof CERT_LOGIN_MODES)[number];

/** How `a` uses client certificates; undefined: not at all (no pin, no certLogin). */
export function certLoginOf(a: Account): CertLogin | undefined {
  if (a.certLogin) return a.certLogin;
  return a.clientCerts && a.clientCerts.length > 0 ? 'cert-and-password' : undefined;
}

/** A certificate login replaces the password for this account. */
export function passwordless(a: Account): boolean {
  const mode = certLoginOf(a);
  return mode === 'cert-only' || mode === 'cert-or-password';
}

const bare = (fingerprint: string): string => fingerprint.replace(/:/g, '').toUpperCase();

/**
 * Why `cert` does not identify `a` (undefined: it does). With pinned fingerprints only those
 * certificates do (self-signed or not, within their dates); without any, a certificate from a
 * configured client CA whose subject CN is exactly the user name does (ProFTPD's TLSUserName
 * CommonName), and only for an account whose certLogin is set.
 */
export function certificateMismatch(a: Account, cert: ClientCertificate | undefined): string | undefined {
  if (!cert) return 'no client certificate presented';
  const pins = a.clientCerts ?? [];
  if (pins.length > 0) {
    if (!pins.some((p) => bare(p) === bare(cert.fingerprint))) {
      return `client certificate ${cert.fingerprint} is not pinned for this user`;
    }
    return cert.invalidNow && `client certificate ${cert.invalidNow}`;
  }
  if (cert.untrusted) return `client certificate ${cert.fingerprint}: ${cert.untrusted}`;
  if (cert.commonName !== a.username) {
    return `client certificate CN "${cert.commonName ?? ''}" is not the user name`;
  }
  return undefined;
}
