/**
 * OpenSSL's failures on an established TLS connection, in words: its raw message
 * (`809C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…:354:` and a
 * line break) tells a user nothing. The code stays in the text, for a search. No imports: the
 * error constructors (errors.ts) use it.
 */

/** The server wrote clear text where TLS records belong (vsftpd's parent after its child died). */
const NOT_TLS = "the server sent data that is not TLS (a clear-text error such as vsftpd's 500 OOPS?)";

const RECORD_FAULTS: ReadonlyMap<string, string> = new Map([
  ['ERR_SSL_WRONG_VERSION_NUMBER', NOT_TLS],
  ['ERR_SSL_PACKET_LENGTH_TOO_LONG', NOT_TLS],
  [
    'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC',
    'a TLS record failed its integrity check (altered or corrupted on the way)',
  ],
  ['ERR_SSL_BAD_RECORD_MAC', 'a TLS record failed its integrity check (altered or corrupted on the way)'],
  ['ERR_SSL_UNEXPECTED_EOF_WHILE_READING', 'the server ended the connection without closing TLS'],
]);

/**
 * `the server sent data that is not TLS (…) (ERR_SSL_WRONG_VERSION_NUMBER)` for an OpenSSL error
 * (one with an ERR_SSL_ code): known ones in words, others by OpenSSL's reason; undefined for any
 * other error.
 */
export function describeTlsFailure(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, reason } = err as { code?: unknown; reason?: unknown };
  if (typeof code !== 'string' || !code.startsWith('ERR_SSL_')) return undefined;
  const words = RECORD_FAULTS.get(code) ?? (typeof reason === 'string' ? `TLS error: ${reason}` : undefined);
  return words === undefined ? undefined : `${words} (${code})`;
}
