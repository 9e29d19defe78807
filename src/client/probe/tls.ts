import * as tls from 'node:tls';
import { isPositiveCompletion } from '../../protocol/reply.js';
import { delay } from '../waits.js';
import { ProbeConnection, brief, type ProbeTarget } from './connection.js';
import { certificate } from './certificate.js';
import { check, notApplicable, notCompleted, type ProbeContext } from './context.js';
import { ticketLifetimeHint } from './der.js';
import { shortError } from './data.js';
import { point, type ProbePoint, type Verdict } from './types.js';

/**
 * TLS: versions, cipher suites per version (the server's choice, removed and offered again until
 * none is left), the certificate, client-initiated renegotiation and the session ticket lifetime.
 * Every handshake is a real control connection (implicit: TLS first; explicit: AUTH TLS).
 */

const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type Version = (typeof VERSIONS)[number];
const LABEL: Readonly<Record<Version, string>> = {
  TLSv1: '1.0',
  'TLSv1.1': '1.1',
  'TLSv1.2': '1.2',
  'TLSv1.3': '1.3',
};

/** Every cipher Node's OpenSSL knows for TLS 1.2 and below, at security level 0 (weak ones included). */
const ALL_LEGACY = 'ALL:COMPLEMENTOFALL:@SECLEVEL=0';
const TLS13_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_128_CCM_SHA256',
  'TLS_AES_128_CCM_8_SHA256',
];
/** Cipher names that are broken or give no real protection. */
const BROKEN = /NULL|EXP|RC4|(^|[-_])DES[-_]|3DES|DES-CBC3|MD5|anon|ADH|AECDH|_WITH_NULL/i;

/** Why a suite (its standard name) is weak, as testssl.sh flags it; undefined when it is not. */
export function weakness(name: string): string | undefined {
  if (BROKEN.test(name)) return 'broken';
  // TLS 1.3 names have no `_WITH_`: their key exchange is always ephemeral.
  if (name.includes('_WITH_') && !/^TLS_(ECDHE|DHE)_/.test(name)) return 'no forward secrecy';
  if (/CCM_8/.test(name)) return 'CCM_8: 64-bit tag';
  return undefined;
}
/** Session tickets valid longer than this weaken forward secrecy (RFC 8446 4.6.1 caps them at 7 days). */
const MAX_TICKET_LIFETIME_S = 7 * 24 * 3600;
/** Local OpenSSL errors: the version or cipher could not even be offered from here. */
const LOCAL_LIMIT = /no protocols available|no ciphers available|unsupported protocol.*(client|local)/i;

interface Handshake {
  readonly version: string;
  readonly cipher: string;
  readonly standardName: string;
  readonly sock: tls.TLSSocket;
  readonly conn: ProbeConnection;
}

async function handshakeWith(t: ProbeTarget, extra: tls.ConnectionOptions): Promise<Handshake> {
  const conn = await ProbeConnection.open(t, { tls: extra, login: false });
  const sock = conn.tlsSocket;
  if (!sock) {
    conn.destroy();
    throw new Error('no TLS on the control connection');
  }
  const c = sock.getCipher();
  return { version: sock.getProtocol() ?? '?', cipher: c.name, standardName: c.standardName, sock, conn };
}

/** One handshake, then close; the error message when it failed. */
async function tryHandshake(
  t: ProbeTarget,
  extra: tls.ConnectionOptions,
): Promise<Omit<Handshake, 'sock' | 'conn'> | { error: string }> {
  try {
    const h = await handshakeWith(t, extra);
    h.conn.destroy();
    return { version: h.version, cipher: h.cipher, standardName: h.standardName };
  } catch (err) {
    return { error: shortError(err) };
  }
}

export async function tlsPoints(ctx: ProbeContext): Promise<ProbePoint[]> {
  const t = ctx.t.security === 'none' ? { ...ctx.t, security: 'explicit' as const } : ctx.t;
  const out: ProbePoint[] = [];
  const accepted: Version[] = [];
  /** Versions whose check could not be done (the server refused the probe). */
  const unknown: Version[] = [];
  for (const v of VERSIONS) {
    const id = `tls-${LABEL[v]}`;
    const title = `TLS ${LABEL[v]}`;
    const sent = `handshake offering only TLS ${LABEL[v]}`;
    let ok = false;
    const p = await check(t, id, title, sent, async () => {
      const r = await tryHandshake(t, {
        minVersion: v,
        maxVersion: v,
        ...(v === 'TLSv1.3' ? {} : { ciphers: ALL_LEGACY }),
      });
      if ('error' in r) {
        if (LOCAL_LIMIT.test(r.error)) {
          ctx.limits.push(`TLS ${LABEL[v]} could not be offered by this Node.js (OpenSSL): ${r.error}`);
          return notApplicable(id, title, `not testable from here: ${r.error}`);
        }
        const v0: Verdict = v === 'TLSv1' || v === 'TLSv1.1' ? 'pass' : 'not-supported';
        return point(id, title, sent, `refused: ${r.error}`, v0);
      }
      ok = true;
      const legacy = v === 'TLSv1' || v === 'TLSv1.1';
      return point(
        id,
        title,
        sent,
        `${r.version}, ${r.standardName}`,
        legacy ? 'fail' : 'pass',
        legacy ? 'TLS 1.0 and 1.1 are deprecated (RFC 8996)' : undefined,
      );
    });
    out.push(p);
    if (ok && p.verdict !== 'not-completed') accepted.push(v);
    else if (p.verdict === 'not-completed') unknown.push(v);
  }
  out.push(...(await cipherPoints(t, accepted)));
  for (const v of VERSIONS.filter((x) => !accepted.includes(x)))
    out.push(
      unknown.includes(v)
        ? notCompleted(`ciphers-${LABEL[v]}`, `Cipher suites, TLS ${LABEL[v]}`, '-', t.state.refused ?? '')
        : notApplicable(
            `ciphers-${LABEL[v]}`,
            `Cipher suites, TLS ${LABEL[v]}`,
            `TLS ${LABEL[v]} not accepted`,
          ),
    );
  out.push(...(await certificate(t)));
  out.push(
    accepted.some((v) => v !== 'TLSv1.3') || t.state.refused !== undefined
      ? await renegotiation(t, accepted)
      : notApplicable(
          'renegotiation',
          'Client-initiated renegotiation refused',
          'TLS 1.3 only: no renegotiation',
        ),
  );
  out.push(await ticketLifetime(t, accepted));
  // Refused midway, no version is known accepted: the check reports it not completed.
  out.push(
    accepted.length > 0 || t.state.refused !== undefined
      ? await alpn(t)
      : notApplicable(ALPN_ID, ALPN_TITLE, 'no TLS version accepted'),
  );
  // The first session's TLS failed: no handshake here says anything the checks could judge.
  const noTls = t.state.noTls;
  return noTls === undefined ? out : out.map((p) => notCompleted(p.id, p.title, p.sent, noTls));
}

interface Suites {
  /** Standard names, in the order the server chose them. */
  readonly chosen: string[];
  /** OpenSSL's names for the same suites (what a cipher list takes). */
  readonly openssl: string[];
}

/**
 * The suites of each accepted version, then whether the server chooses among them (cipher-order).
 * Without a server order (or none found) the lists are OpenSSL's order of offer: given by name then.
 */
export async function cipherPoints(t: ProbeTarget, accepted: readonly Version[]): Promise<ProbePoint[]> {
  const found = new Map<Version, Suites>();
  const points = new Map<Version, ProbePoint>();
  for (const v of accepted) points.set(v, await ciphers(t, v, found));
  const order = await cipherOrder(t, found);
  const listed = [...points].map(([v, p]) => {
    const chosen = found.get(v)?.chosen ?? [];
    if (chosen.length < 2 || order.serverOrder.includes(v)) return p;
    // OpenSSL's order of offer is no order of the server's: by name, as a set.
    const why = "not in the server's order (see cipher-order): listed by name";
    const received = [...chosen].sort().join(' ');
    return point(p.id, p.title, p.sent, received, p.verdict, p.detail ? `${p.detail}; ${why}` : why);
  });
  return [...listed, order.point];
}

/** The suites a version accepts, in the order of choice (each chosen one is then removed). */
function ciphers(t: ProbeTarget, v: Version, found: Map<Version, Suites>): Promise<ProbePoint> {
  const id = `ciphers-${LABEL[v]}`;
  const title = `Cipher suites, TLS ${LABEL[v]}`;
  const sent = 'handshakes, each without the suites chosen before';
  return check(t, id, title, sent, async () => {
    const suites = await cipherList(t, v);
    found.set(v, suites);
    const { chosen } = suites;
    const weak = chosen.flatMap((n) => {
      const why = weakness(n);
      return why === undefined ? [] : [`${n} (${why})`];
    });
    const received = chosen.length > 0 ? chosen.join(' ') : 'none';
    if (weak.length > 0) return point(id, title, sent, received, 'fail', `weak: ${weak.join(', ')}`);
    return point(id, title, sent, received, chosen.length > 0 ? 'pass' : 'fail');
  });
}

async function cipherList(t: ProbeTarget, v: Version): Promise<Suites> {
  const chosen: string[] = [];
  const openssl: string[] = [];
  let left = [...TLS13_SUITES];
  for (let round = 0; round < 48; round++) {
    const list = v === 'TLSv1.3' ? left.join(':') : [ALL_LEGACY, ...openssl.map((n) => `!${n}`)].join(':');
    if (list === '') break;
    const r = await tryHandshake(t, { minVersion: v, maxVersion: v, ciphers: list });
    if ('error' in r) break;
    if (chosen.includes(r.standardName)) break; // the server ignored the exclusion
    chosen.push(r.standardName);
    openssl.push(r.cipher);
    left = left.filter((n) => n !== r.cipher && n !== r.standardName);
  }
  return { chosen, openssl };
}

/**
 * Whether the server enforces its order: its first two suites offered in both orders. The same
 * choice both times is the server's order (then its first choice must be strong); otherwise the
 * client chooses, which is harmless only when every suite it could choose is strong.
 */
async function cipherOrder(
  t: ProbeTarget,
  found: ReadonlyMap<Version, Suites>,
): Promise<{ point: ProbePoint; serverOrder: Version[] }> {
  const id = 'cipher-order';
  const title = 'Server chooses the cipher suite';
  const sent = 'two accepted suites offered in both orders';
  const serverOrder: Version[] = [];
  const clientChooses: Version[] = [];
  const p = await check(t, id, title, sent, async () => {
    const seen: string[] = [];
    const faults: string[] = [];
    for (const [v, { chosen, openssl }] of found) {
      const [a, b] = openssl;
      if (a === undefined || b === undefined) continue;
      const choice = async (list: string): Promise<string | undefined> => {
        const r = await tryHandshake(t, {
          minVersion: v,
          maxVersion: v,
          ciphers: v === 'TLSv1.3' ? list : `${list}:@SECLEVEL=0`,
        });
        return 'error' in r ? undefined : r.cipher;
      };
      const first = await choice(`${a}:${b}`);
      const second = await choice(`${b}:${a}`);
      if (first === undefined || second === undefined) continue;
      if (first === second) {
        seen.push(`TLS ${LABEL[v]}: the server's`);
        serverOrder.push(v);
        const why = weakness(chosen[0] ?? '');
        if (why !== undefined) faults.push(`TLS ${LABEL[v]}: first choice ${chosen[0] ?? ''} (${why})`);
        continue;
      }
      seen.push(`TLS ${LABEL[v]}: the client's`);
      clientChooses.push(v);
      const weak = chosen.filter((n) => weakness(n) !== undefined);
      if (weak.length > 0) faults.push(`TLS ${LABEL[v]}: a client preferring ${weak.join(' ')} gets it`);
    }
    if (seen.length === 0) return notApplicable(id, title, 'no TLS version accepts two suites');
    const received = seen.join('; ');
    if (faults.length > 0) return point(id, title, sent, received, 'fail', faults.join('; '));
    if (clientChooses.length > 0)
      return point(
        id,
        title,
        sent,
        received,
        'not-supported',
        'the client chooses; every suite it can choose is strong',
      );
    return point(id, title, sent, received, 'pass');
  });
  return { point: p, serverOrder: p.verdict === 'not-completed' ? [] : serverOrder };
}

const ALPN_ID = 'alpn';
const ALPN_TITLE = 'Foreign ALPN refused (ALPACA)';
/** Another protocol's names: an FTPS server that accepts them can be fed a browser's request. */
const FOREIGN_ALPN = ['h2', 'http/1.1'];

/** A handshake offering only HTTP's ALPN names must fail with no_application_protocol. */
export function alpn(t: ProbeTarget): Promise<ProbePoint> {
  const sent = `handshake offering only ALPN ${FOREIGN_ALPN.join(', ')}`;
  return check(t, ALPN_ID, ALPN_TITLE, sent, async () => {
    let h: Handshake;
    try {
      h = await handshakeWith(t, { ALPNProtocols: FOREIGN_ALPN });
    } catch (err) {
      const e = shortError(err);
      const received = /no application protocol/i.test(e)
        ? 'refused: no_application_protocol alert'
        : `refused: ${e}`;
      return point(ALPN_ID, ALPN_TITLE, sent, received, 'pass');
    }
    const chosen = h.sock.alpnProtocol;
    h.conn.destroy();
    return point(
      ALPN_ID,
      ALPN_TITLE,
      sent,
      `handshake completed; ALPN ${chosen === false || chosen === null ? 'none selected' : chosen}`,
      'fail',
      'cross-protocol attacks possible (ALPACA): the server should refuse ALPN it does not speak',
    );
  });
}

export async function renegotiation(t: ProbeTarget, accepted: readonly Version[]): Promise<ProbePoint> {
  const id = 'renegotiation';
  const title = 'Client-initiated renegotiation refused';
  const v = accepted.includes('TLSv1.2') ? 'TLSv1.2' : (accepted.find((x) => x !== 'TLSv1.3') ?? 'TLSv1.2');
  const sent = `TLS ${LABEL[v]}; renegotiate; NOOP`;
  return check(t, id, title, sent, async () => {
    const h = await handshakeWith(t, {
      maxVersion: v,
      ...(v === 'TLSv1.2' ? {} : { minVersion: v, ciphers: ALL_LEGACY }),
    });
    try {
      const result = await new Promise<string | undefined>((resolve) => {
        const sock = h.sock;
        const done = (why: string | undefined): void => {
          clearTimeout(timer);
          sock.off('error', onError);
          sock.off('close', onClose);
          resolve(why);
        };
        // A refusal comes as an error on the socket: the callback is called on success only.
        const onError = (e: Error & { code?: string }): void =>
          done(e.code === 'ERR_SSL_NO_RENEGOTIATION' ? 'no_renegotiation alert' : shortError(e));
        const onClose = (): void => done('connection closed');
        const timer = setTimeout(() => done('ignored (no new handshake within 3 s)'), 3000);
        sock.once('error', onError);
        sock.once('close', onClose);
        const ok = sock.renegotiate({ rejectUnauthorized: false }, (err) =>
          done(err ? shortError(err) : undefined),
        );
        if (!ok) done('could not start');
      });
      if (result !== undefined) return point(id, title, sent, `refused: ${result}`, 'pass');
      await delay(0).promise;
      const noop = await h.conn.request('NOOP').catch(() => undefined);
      const after = noop ? brief(noop) : 'connection lost';
      const alive = noop !== undefined && isPositiveCompletion(noop);
      return point(
        id,
        title,
        sent,
        `renegotiated; ${after}`,
        'fail',
        alive ? 'a client can make the server redo handshakes at will (CPU cost, CVE-2011-1473)' : undefined,
      );
    } finally {
      h.conn.destroy();
    }
  });
}

async function ticketLifetime(t: ProbeTarget, accepted: readonly Version[]): Promise<ProbePoint> {
  const id = 'session-ticket-lifetime';
  const title = 'Session ticket lifetime';
  const sent = 'handshake; session tickets received';
  return check(t, id, title, sent, async () => {
    const found: string[] = [];
    let longest = -1;
    for (const v of (['TLSv1.3', 'TLSv1.2'] as const).filter((x) => accepted.includes(x))) {
      // Logged in (a reply over TLS brings TLS 1.3 tickets), unless there is no login (refused, or
      // the certificate not trusted).
      const c = await ProbeConnection.open(t, {
        tls: { minVersion: v, maxVersion: v },
        login: t.state.noLogin === undefined,
      });
      try {
        await c.request('NOOP'); // TLS 1.3 tickets come after the handshake
        const s = c.control.dataSession();
        const hint =
          s && (v === 'TLSv1.3' || c.tlsSocket?.getTLSTicket()) ? ticketLifetimeHint(s) : undefined;
        if (hint === undefined) found.push(`TLS ${LABEL[v]}: no ticket`);
        else {
          found.push(`TLS ${LABEL[v]}: ${hint} s`);
          longest = Math.max(longest, hint);
        }
      } finally {
        await c.close();
      }
    }
    if (found.length === 0) return notApplicable(id, title, 'neither TLS 1.2 nor 1.3 accepted');
    if (longest < 0)
      return point(
        id,
        title,
        sent,
        found.join('; '),
        'not-supported',
        'no session tickets: resumption by session ID only',
      );
    const v: Verdict = longest > MAX_TICKET_LIFETIME_S ? 'fail' : 'pass';
    return point(
      id,
      title,
      sent,
      found.join('; '),
      v,
      v === 'fail' ? 'longer than 7 days (RFC 8446 4.6.1)' : undefined,
    );
  });
}
