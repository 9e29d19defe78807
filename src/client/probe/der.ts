/**
 * The two facts the probe reads from DER that Node does not expose: the session ticket lifetime
 * hint in an OpenSSL SSL_SESSION (`[9] INTEGER`), and a certificate's signature algorithm OID.
 */

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

function readTlv(b: Buffer, at: number): Tlv | undefined {
  if (at + 2 > b.length) return undefined;
  const tag = b[at] ?? 0;
  let len = b[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > b.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] ?? 0);
    start += n;
  }
  const end = start + len;
  return end <= b.length ? { tag, start, end } : undefined;
}

function children(b: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const t = readTlv(b, at);
    if (!t) break;
    out.push(t);
    at = t.end;
  }
  return out;
}

function integer(b: Buffer, t: Tlv): number {
  let n = 0;
  for (let i = t.start; i < t.end; i++) n = n * 256 + (b[i] ?? 0);
  return n;
}

/** The ticket lifetime hint (seconds) of a serialized session, if it has one. */
export function ticketLifetimeHint(session: Buffer): number | undefined {
  const top = readTlv(session, 0);
  if (!top || top.tag !== 0x30) return undefined;
  const field = children(session, top).find((t) => t.tag === 0xa9);
  if (!field) return undefined;
  const inner = readTlv(session, field.start);
  return inner && inner.tag === 0x02 ? integer(session, inner) : undefined;
}

function oidText(b: Buffer, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const byte = b[i] ?? 0;
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** The certificate's signature algorithm (name, or the OID when unknown). */
export function signatureAlgorithm(der: Buffer): string | undefined {
  const cert = readTlv(der, 0);
  if (!cert) return undefined;
  const alg = children(der, cert)[1];
  if (!alg || alg.tag !== 0x30) return undefined;
  const oid = children(der, alg)[0];
  if (!oid || oid.tag !== 0x06) return undefined;
  const text = oidText(der, oid);
  return SIGNATURES[text] ?? text;
}
