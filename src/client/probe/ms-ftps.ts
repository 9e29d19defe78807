import { Code } from '../../protocol/codes.js';
import { isPositiveCompletion, type Reply } from '../../protocol/reply.js';
import { connectTcp } from '../control.js';
import { delay } from '../waits.js';
import { ProbeConnection, brief, unavailable, withConnection } from './connection.js';
import { check, notApplicable, refusal, type ProbeContext } from './context.js';
import { describeOutcome, exchange, succeeded } from './data.js';
import { point, type ProbePoint } from './types.js';

/** MS-FTPS: implicit FTPS (TLS first, implied PBSZ/PROT, no AUTH/CCC, REIN) and AUTH SSL. */

const IMPLICIT_ONLY = 'implicit FTPS only (ftps://)';
/** How long the server may stay silent before TLS for "it sent nothing" to hold. */
const SILENCE_MS = 1000;

export async function msFtpsPoints(ctx: ProbeContext): Promise<ProbePoint[]> {
  const implicit = ctx.t.security === 'implicit';
  const out: ProbePoint[] = [];
  if (implicit) {
    out.push(await silentBeforeTls(ctx));
    out.push(await protImplied(ctx));
    for (const mech of ['TLS', 'SSL'] as const) out.push(await authRefusedOnImplicit(ctx, mech));
    out.push(await cccRefusedOnImplicit(ctx));
    out.push(await reinOnImplicit(ctx));
  } else {
    for (const [id, title] of [
      ['implicit-silent-before-tls', 'Nothing sent before the TLS handshake'],
      ['implicit-prot-implied', 'PBSZ 0 / PROT P implied'],
      ['implicit-auth-tls-refused', 'AUTH TLS refused on implicit'],
      ['implicit-auth-ssl-refused', 'AUTH SSL refused on implicit'],
      ['implicit-ccc-refused', 'CCC refused on implicit'],
      ['implicit-rein', 'REIN: close_notify, new handshake, new greeting'],
    ] as const)
      out.push(notApplicable(id, title, IMPLICIT_ONLY));
  }
  out.push(await authSsl(ctx));
  out.push(...featSecurity(ctx));
  return out;
}

async function silentBeforeTls(ctx: ProbeContext): Promise<ProbePoint> {
  const id = 'implicit-silent-before-tls';
  const title = 'Nothing sent before the TLS handshake';
  const sent = `TCP connect, then wait ${SILENCE_MS} ms`;
  return check(ctx.t, id, title, sent, async () => {
    const sock = await connectTcp(ctx.t.host, ctx.t.port, ctx.t.timeoutMs);
    const got: Buffer[] = [];
    let closed = false;
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', () => {});
    sock.on('close', () => void (closed = true));
    await delay(SILENCE_MS).promise;
    sock.destroy();
    const bytes = Buffer.concat(got);
    if (bytes.length === 0 && closed) {
      // Closed without a word: refused (a ban closes before any TLS), or only impatient?
      const why = await unavailable(ctx.t);
      if (why !== undefined) ctx.t.state.halt(why);
    }
    if (bytes.length === 0) return point(id, title, sent, 'nothing', 'pass');
    const text = JSON.stringify(bytes.subarray(0, 60).toString('latin1'));
    return point(
      id,
      title,
      sent,
      `${bytes.length} bytes in clear: ${text}`,
      'fail',
      'an implicit FTPS server speaks only after the TLS handshake (MS-FTPS 3.2.5.1)',
    );
  });
}

async function protImplied(ctx: ProbeContext): Promise<ProbePoint> {
  const id = 'implicit-prot-implied';
  const title = 'PBSZ 0 / PROT P implied (data protected without PROT P)';
  const sent = 'login, no PBSZ/PROT; NLST; TLS on the data connection';
  return check(ctx.t, id, title, sent, () =>
    withConnection(ctx.t, {}, async (c) => {
      const session = c.control.dataSession();
      const o = await exchange(c, { command: 'NLST', tls: { session }, clearWatchMs: 500 });
      const received = describeOutcome(o);
      if (o.clearBytes > 0 || o.error === 'closed before any TLS')
        return point(
          id,
          title,
          sent,
          received,
          'fail',
          'the server sent the data in clear: it does not imply PROT P (MS-FTPS 3.2.5.1)',
        );
      if (succeeded(o)) return point(id, title, sent, received, 'pass');
      return point(
        id,
        title,
        sent,
        received,
        'fail',
        'a protected data connection without PBSZ/PROT did not work',
      );
    }),
  );
}

async function authRefusedOnImplicit(ctx: ProbeContext, mech: 'TLS' | 'SSL'): Promise<ProbePoint> {
  const id = `implicit-auth-${mech.toLowerCase()}-refused`;
  const title = `AUTH ${mech} refused on implicit`;
  const sent = `AUTH ${mech}`;
  return check(ctx.t, id, title, sent, () =>
    withConnection(ctx.t, {}, async (c) => {
      const r = await c.request(sent);
      const v = refusal(r);
      if (v === 'fail') c.destroy(); // it may now expect a handshake inside TLS
      return point(
        id,
        title,
        sent,
        brief(r),
        v,
        v === 'fail' ? 'TLS is already established (MS-FTPS 3.2.5.6)' : undefined,
      );
    }),
  );
}

async function cccRefusedOnImplicit(ctx: ProbeContext): Promise<ProbePoint> {
  const id = 'implicit-ccc-refused';
  const title = 'CCC refused on implicit';
  return check(ctx.t, id, title, 'CCC', () =>
    withConnection(ctx.t, {}, async (c) => {
      const r = await c.request('CCC');
      const v = refusal(r);
      if (v === 'fail') c.destroy();
      return point(
        id,
        title,
        'CCC',
        brief(r),
        v,
        v === 'fail' ? 'MS-FTPS 3.2.5.2: CCC is not allowed on implicit FTPS' : undefined,
      );
    }),
  );
}

async function reinOnImplicit(ctx: ProbeContext): Promise<ProbePoint> {
  const id = 'implicit-rein';
  const title = 'REIN: close_notify, new handshake on the same TCP connection, new greeting';
  const sent = 'REIN; close_notify; TLS handshake; read greeting; login';
  return check(ctx.t, id, title, sent, () =>
    withConnection(ctx.t, {}, async (c) => {
      const r = await c.request('REIN');
      if (!isPositiveCompletion(r)) {
        const v = r.code === Code.NotImplemented || r.code === Code.SyntaxError ? 'not-supported' : 'fail';
        return point(id, title, 'REIN', brief(r), v);
      }
      await c.control.stopTls();
      const sock = await c.control.startTls();
      const greeting: Reply = await c.control.readFinal();
      if (greeting.code !== Code.ServiceReady)
        return point(
          id,
          title,
          sent,
          `${brief(r)}; ${sock.getProtocol() ?? '?'}; ${brief(greeting)}`,
          'fail',
          'no new greeting after the new handshake (MS-FTPS 3.2.5.3)',
        );
      await c.login();
      return point(
        id,
        title,
        sent,
        `${brief(r)}; ${sock.getProtocol() ?? '?'}; ${brief(greeting)}; logged in again`,
        'pass',
      );
    }),
  );
}

async function authSsl(ctx: ProbeContext): Promise<ProbePoint> {
  const id = 'explicit-auth-ssl';
  const title = 'AUTH SSL equal to AUTH TLS on explicit';
  const sent = 'AUTH SSL; TLS handshake; login; PBSZ 0; PROT P; NLST';
  if (ctx.t.security !== 'explicit') return notApplicable(id, title, 'explicit FTPS only (ftpes://)');
  return check(ctx.t, id, title, sent, async () => {
    const c = await ProbeConnection.open(ctx.t, { auth: false, login: false });
    try {
      const r = await c.request('AUTH SSL');
      if (r.code !== Code.SecurityExchangeComplete && r.code !== Code.SecurityMechanismAccepted)
        return point(
          id,
          title,
          'AUTH SSL',
          brief(r),
          'not-supported',
          'AUTH SSL is the MS-FTPS extension for legacy clients',
        );
      const st = ctx.t.state;
      if (st.noTls !== undefined) st.stop(st.noTls); // its handshake would fail as AUTH TLS's did
      await c.control.startTls();
      await c.login();
      await c.request('PBSZ 0');
      const prot = await c.request('PROT P');
      if (!isPositiveCompletion(prot) && st.protRefused !== undefined) st.stop(st.protRefused);
      const session = c.control.dataSession();
      const o = await exchange(c, { command: 'NLST', tls: { session } });
      const received = `${brief(r)}; ${brief(prot)}; ${describeOutcome(o)}`;
      return point(id, title, sent, received, succeeded(o) ? 'pass' : 'fail');
    } finally {
      await c.close();
    }
  });
}

function featSecurity(ctx: ProbeContext): ProbePoint[] {
  const f = ctx.features;
  const auth = f.get('AUTH');
  const mechs = (auth ?? '')
    .toUpperCase()
    .split(/[;\s]+/)
    .filter((m) => m !== '');
  const authVerdict =
    mechs.includes('TLS') && mechs.includes('SSL')
      ? 'pass'
      : auth === undefined && ctx.t.security === 'explicit'
        ? 'fail'
        : 'not-supported';
  const prot = f.get('PROT');
  return [
    point(
      'feat-auth',
      'FEAT advertises AUTH TLS;SSL;',
      'FEAT',
      auth === undefined ? 'no AUTH line' : `AUTH ${auth}`,
      authVerdict,
      authVerdict === 'not-supported' ? 'AUTH SSL is not advertised (MS-FTPS 4.2)' : undefined,
    ),
    point(
      'feat-pbsz',
      'FEAT advertises PBSZ',
      'FEAT',
      f.has('PBSZ') ? 'PBSZ' : 'no PBSZ line',
      f.has('PBSZ') ? 'pass' : 'fail',
      f.has('PBSZ') ? undefined : 'RFC 4217 9 / MS-FTPS 4.2 list PBSZ in FEAT',
    ),
    point(
      'feat-prot',
      'FEAT advertises PROT C;P;',
      'FEAT',
      prot === undefined ? 'no PROT line' : `PROT ${prot}`,
      prot === undefined ? 'fail' : 'pass',
    ),
  ];
}
