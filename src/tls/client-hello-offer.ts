/**
 * What a ClientHello offers to negotiate (RFC 8446 4.1.2, 4.2.1): its TLS versions and cipher
 * suites, named for an administrator deciding whether to allow an old client (tlsMinVersion,
 * tlsCiphers).
 */
import { helloMessage, Reader } from './client-hello.js';
import { cipherName } from './cipher-names.js';

export interface OfferedSuites {
  /** Node's names (TLSv1, TLSv1.2…; SSLv3), highest first as offered. */
  readonly versions: readonly string[];
  /** OpenSSL's names, or the IANA code (0x00ff) for one not in the table. */
  readonly ciphers: readonly string[];
}

const SUPPORTED_VERSIONS = 43;
const VERSION_NAMES: Readonly<Record<number, string>> = {
  0x0300: 'SSLv3',
  0x0301: 'TLSv1',
  0x0302: 'TLSv1.1',
  0x0303: 'TLSv1.2',
  0x0304: 'TLSv1.3',
};

/** RFC 8701 GREASE values (0x0a0a, 0x1a1a…) mean nothing: left out. */
const grease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

const hex = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;

/** undefined while the ClientHello is incomplete, or when the bytes are not one. */
export function offeredSuites(bytes: Buffer): OfferedSuites | undefined {
  const msg = helloMessage(bytes);
  if (!msg) return undefined;
  const r = new Reader(msg.subarray(4));
  const legacy = r.u16();
  r.skip(32); // random
  r.vector(1); // legacy_session_id
  const suites = new Reader(r.vector(2));
  const ciphers: string[] = [];
  while (suites.left > 0) {
    const code = suites.u16();
    if (!grease(code)) ciphers.push(cipherName(code) ?? hex(code));
  }
  r.vector(1); // legacy_compression_methods
  let versions: number[] = [legacy];
  if (r.left > 0) {
    const ext = new Reader(r.vector(2));
    while (ext.left > 0) {
      const type = ext.u16();
      const data = ext.vector(2);
      if (type !== SUPPORTED_VERSIONS) continue;
      const list = new Reader(new Reader(data).vector(1));
      versions = [];
      while (list.left > 0) versions.push(list.u16());
    }
    if (!ext.ok) return undefined;
  }
  if (!r.ok || !suites.ok) return undefined;
  const names = versions.filter((v) => !grease(v)).map((v) => VERSION_NAMES[v] ?? hex(v));
  return { versions: names, ciphers };
}
