import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { NotCompletedError, ProbeConnection, type ProbeTarget } from './connection.js';
import { chainOf, chainPoint } from './chain.js';
import { check, notCompleted } from './context.js';
import { signatureAlgorithm } from './der.js';
import { point, type ProbePoint, type Verdict } from './types.js';

/**
 * The certificate points, for each certificate the server presents: a server may hold one per key
 * type (RSA and ECDSA) and choose by what the client offers, so a handshake that can only take the
 * other kind asks for the second one. Each point judges all of them: the worst verdict, each
 * certificate named by its key type.
 */

const CERTIFICATE_POINTS: readonly (readonly [string, string])[] = [
  ['certificate-chain', 'Certificate chain trusted'],
  ['certificate-expiry', 'Certificate validity'],
  ['certificate-name', 'Certificate host name'],
  ['certificate-key', 'Certificate key type and size'],
  ['certificate-signature', 'Certificate signature algorithm'],
];

const DAY_MS = 86_400_000;

/**
 * Handshakes that only one kind of certificate can answer: TLS 1.3 servers choose it by the
 * signature algorithms offered, TLS 1.2 and below by the suite's authentication.
 */
const KINDS: readonly { readonly keyTypes: readonly string[]; readonly tls: tls.ConnectionOptions }[] = [
  {
    keyTypes: ['ec'],
    tls: { sigalgs: 'ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1', ciphers: 'aECDSA:@SECLEVEL=0' },
  },
  {
    keyTypes: ['rsa', 'rsa-pss'],
    tls: {
      sigalgs:
        'rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1',
      ciphers: 'aRSA:@SECLEVEL=0',
    },
  },
];

const KEY_LABEL: Readonly<Record<string, string>> = {
  rsa: 'RSA',
  'rsa-pss': 'RSA-PSS',
  ec: 'ECDSA',
  dsa: 'DSA',
};

interface Judged {
  readonly x: X509Certificate;
  /** The five certificate points for this one. */
  readonly points: readonly ProbePoint[];
}

/** A handshake (no login) with `extra` TLS options, and its certificate judged before it closes. */
async function judged(t: ProbeTarget, extra: tls.ConnectionOptions): Promise<Judged> {
  const sent = await sentChain(t, extra);
  // The name is certificate-name's point: Node would fold a mismatch into the chain's authorizationError.
  const c = await ProbeConnection.open(t, {
    tls: { checkServerIdentity: () => undefined, ...extra },
    login: false,
  });
  try {
    const sock = c.tlsSocket;
    if (!sock) throw new Error('no TLS on the control connection');
    const x = new X509Certificate(sock.getPeerCertificate(true).raw);
    // Another certificate answered this time (a server choosing at random): its sent chain is unknown.
    const same = sent?.[0]?.fingerprint256 === x.fingerprint256 ? sent : undefined;
    return { x, points: certificatePoints(t, sock, x, same) };
  } finally {
    c.destroy();
  }
}

/**
 * The certificates the server sends, leaf first, from a handshake with no CA at all: Node
 * completes a chain from the handshake's trust store (the anchor from --ca or the system CAs, as
 * if the server had sent it), and an empty store adds nothing. Undefined when it cannot be had.
 */
async function sentChain(
  t: ProbeTarget,
  extra: tls.ConnectionOptions,
): Promise<X509Certificate[] | undefined> {
  let c: ProbeConnection;
  try {
    c = await ProbeConnection.open(t, {
      tls: { checkServerIdentity: () => undefined, ...extra, ca: [] },
      login: false,
    });
  } catch (err) {
    if (err instanceof NotCompletedError) throw err;
    return undefined;
  }
  try {
    const sock = c.tlsSocket;
    return sock ? chainOf(sock.getPeerCertificate(true)) : undefined;
  } finally {
    c.destroy();
  }
}

export async function certificate(t: ProbeTarget): Promise<ProbePoint[]> {
  const sent = 'handshakes: any certificate, then only ECDSA or only RSA';
  const found: Judged[] = [];
  const p = await check(t, 'certificate', 'Certificate', sent, async () => {
    found.push(await judged(t, {}));
    for (const kind of KINDS) {
      if (found.some((f) => kind.keyTypes.includes(f.x.publicKey.asymmetricKeyType ?? ''))) continue;
      try {
        const other = await judged(t, kind.tls);
        if (!found.some((f) => f.x.fingerprint256 === other.x.fingerprint256)) found.push(other);
      } catch (err) {
        if (err instanceof NotCompletedError) throw err;
        // Refused: the server has no certificate of this kind.
      }
    }
    return point('certificate', 'Certificate', sent, 'presented', 'pass');
  });
  if (p.verdict !== 'pass') {
    const why =
      p.verdict === 'not-completed' ? (p.detail ?? '') : `certificate handshake failed: ${p.received}`;
    return CERTIFICATE_POINTS.map(([id, title]) => notCompleted(id, title, sent, why));
  }
  const each = found.flatMap((f) => f.points.map((q) => ({ label: labelOf(f.x), p: q })));
  return CERTIFICATE_POINTS.map(([id]) => merged(each.filter(({ p: q }) => q.id === id)));
}

function labelOf(x: X509Certificate): string {
  const type = x.publicKey.asymmetricKeyType ?? '?';
  return KEY_LABEL[type] ?? type;
}

/** Worst first. */
const SEVERITY: readonly Verdict[] = ['fail', 'not-completed', 'not-supported', 'pass', 'not-applicable'];

/** One point for several certificates: each one's answer named by its key type, the worst verdict. */
function merged(each: readonly { readonly label: string; readonly p: ProbePoint }[]): ProbePoint {
  const [first] = each;
  if (!first) throw new Error('no certificate judged');
  if (each.length === 1) return first.p;
  const verdict = SEVERITY.find((v) => each.some(({ p }) => p.verdict === v)) ?? first.p.verdict;
  const received = each.map(({ label, p }) => `${label}: ${p.received}`).join(' / ');
  const details = each.flatMap(({ label, p }) => (p.detail === undefined ? [] : [`${label}: ${p.detail}`]));
  return point(
    first.p.id,
    first.p.title,
    first.p.sent,
    received,
    verdict,
    details.length > 0 ? details.join(' / ') : undefined,
  );
}

/** `29 days left`, `expired 1 day ago`, `not yet valid, starts in 3 days`: whole days, rounded down. */
export function validityText(from: number, to: number, now: number): string {
  const days = (ms: number): string => {
    const n = Math.floor(ms / DAY_MS);
    return n === 0 ? 'less than a day' : n === 1 ? '1 day' : `${n} days`;
  };
  if (now > to) return `expired ${days(now - to)} ago`;
  if (now < from) return `not yet valid, starts in ${days(from - now)}`;
  return `${days(to - now)} left`;
}

function certificatePoints(
  t: ProbeTarget,
  sock: tls.TLSSocket,
  x: X509Certificate,
  sent: readonly X509Certificate[] | undefined,
): ProbePoint[] {
  const out: ProbePoint[] = [chainPoint(sock, t.ca, sent)];
  const peer = sock.getPeerCertificate(true);
  const now = Date.now();
  const to = Date.parse(x.validTo);
  const from = Date.parse(x.validFrom);
  const expired = now > to || now < from;
  out.push(
    point(
      'certificate-expiry',
      'Certificate validity',
      'notBefore / notAfter',
      `${x.validFrom} to ${x.validTo} (${validityText(from, to, now)})`,
      expired ? 'fail' : 'pass',
      expired ? 'outside its validity period' : to - now < 14 * DAY_MS ? 'expires within 14 days' : undefined,
    ),
  );
  const name = t.servername ?? t.host;
  // The names a client matches: the subjectAltNames, else the CN (Node's error lists only some).
  const listed = peer.subjectaltname || (peer.subject?.CN ? `CN=${peer.subject.CN}` : '');
  const nameError = tls.checkServerIdentity(name, peer);
  out.push(
    point(
      'certificate-name',
      'Certificate host name',
      `check ${name}`,
      nameError ? `${name} does not match` : `matches (${listed})`,
      nameError ? 'fail' : 'pass',
      nameError ? `the certificate lists ${listed || 'no names (no subjectAltName, no CN)'}` : undefined,
    ),
  );
  const key = x.publicKey;
  const type = key.asymmetricKeyType ?? '?';
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength;
  const curve = details?.namedCurve;
  const keyText =
    bits !== undefined ? `${type} ${bits} bits` : curve !== undefined ? `${type} ${curve}` : type;
  const strong = (type === 'rsa' || type === 'rsa-pss' ? (bits ?? 0) >= 2048 : true) && type !== 'dsa';
  out.push(
    point(
      'certificate-key',
      'Certificate key type and size',
      'public key',
      keyText,
      strong ? 'pass' : 'fail',
      strong ? undefined : 'RSA keys need at least 2048 bits; DSA is obsolete',
    ),
  );
  const sig = signatureAlgorithm(peer.raw) ?? '?';
  const weakSig = /md5|sha1/i.test(sig);
  out.push(
    point(
      'certificate-signature',
      'Certificate signature algorithm',
      'signature algorithm',
      sig,
      weakSig ? 'fail' : 'pass',
      weakSig ? 'MD5 and SHA-1 signatures can be forged' : undefined,
    ),
  );
  return out;
}
