import type { SecureVersion } from 'node:tls';

/** The TLS versions `--tls-min` (server and client) and `tlsMinVersion` accept, in either spelling. */
const VERSIONS: Readonly<Record<string, SecureVersion>> = {
  '1': 'TLSv1',
  '1.0': 'TLSv1',
  '1.1': 'TLSv1.1',
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
};

export const TLS_VERSION_CHOICES = '1.0, 1.1, 1.2 or 1.3 (or TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)';

/** `1.2`, `TLSv1.2`, `tlsv1.2` → `TLSv1.2`; undefined for anything else. */
export function parseTlsVersion(text: string): SecureVersion | undefined {
  const bare = text.trim().replace(/^tlsv?/i, '');
  return Object.hasOwn(VERSIONS, bare) ? VERSIONS[bare] : undefined;
}
