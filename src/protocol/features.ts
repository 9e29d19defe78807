import { Code } from './codes.js';
import { reply, type Reply } from './reply.js';

/**
 * FEAT (RFC 2389): `211-Features:`, one feature per line with exactly one leading space, `211 End`.
 */
export function formatFeatReply(features: readonly string[]): Reply {
  const lines = features.map((f) => f.replace(/[\r\n]+/g, ' ').trim()).filter((f) => f !== '');
  if (lines.length === 0) return reply(Code.SystemStatus, 'No features.');
  return reply(Code.SystemStatus, 'Features:', ...lines.map((l) => ` ${l}`), 'End');
}

/**
 * Client side: feature name (uppercase) → parameters (`AUTH` → `TLS;SSL;`, `UTF8` → ``). Tolerates
 * missing or extra leading spaces and servers that repeat `211-` on every line. A feature listed
 * twice has its parameters joined with `;`. Empty for anything but a multi-line 211.
 */
export function parseFeatures(r: Reply): Map<string, string> {
  const features = new Map<string, string>();
  if (r.code !== Code.SystemStatus || r.lines.length < 2) return features;
  for (const raw of r.lines.slice(1, -1)) {
    const line = raw.replace(/^211-/, '').trim();
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const params = sp < 0 ? '' : line.slice(sp + 1).trim();
    const seen = features.get(name);
    if (seen === undefined || seen === '') features.set(name, params);
    else if (params !== '') features.set(name, seen.endsWith(';') ? seen + params : `${seen};${params}`);
  }
  return features;
}
