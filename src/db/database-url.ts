import { redactUrl } from '../protocol/url-password.js';

/**
 * The URL without its password, for messages and logs: in the query (`password`, `sslpassword`, as
 * libpq takes them), and from the user's `:` to the last `@` (an unencoded `@` or `/` in the
 * password would otherwise show its rest; an `@` elsewhere may hide more, never less).
 */
export function redact(url: string): string {
  return redactUrl(url.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1****'));
}

/** Whether the URL holds a password (in the user part or the query). */
export function hasPassword(url: string): boolean {
  return redact(url) !== url;
}
