import { constants } from 'node:crypto';
import type * as tls from 'node:tls';

import { isNegative, isPositiveCompletion, type Reply } from '../../protocol/reply.js';
import { ProbeConnection, brief, withConnection, type ProbeTarget } from './connection.js';
import { check, notApplicable, protectedSession, refusal, type ProbeContext } from './context.js';
import { describeOutcome, exchange, shortError, succeeded, type DataOutcome } from './data.js';
import { point, type ProbePoint, type Verdict } from './types.js';

/**
 * RFC 4217: the order of AUTH/PBSZ/PROT, PROT C, CCC, logins in clear, and what binds a data
 * connection to its control session (TLS session resumption, and which kinds of it work).
 */

const EXPLICIT_ONLY = 'explicit FTPS only (ftpes://)';
/** After a refused data connection, how long to wait for the transfer's reply (see DataPlan.finalWaitMs). */
const REFUSED_WAIT_MS = 2000;

export async function rfc4217Points(ctx: ProbeContext): Promise<ProbePoint[]> {
  const t = ctx.t;
  const explicit = t.security === 'explicit';
  const out: ProbePoint[] = [];
  out.push(
    explicit
      ? await pbszBeforeAuth(t)
      : notApplicable('pbsz-before-auth-refused', 'PBSZ before AUTH refused', EXPLICIT_ONLY),
  );
  out.push(
    explicit
      ? await protBeforePbsz(t)
      : notApplicable(
          'prot-before-pbsz-refused',
          'PROT before PBSZ refused',
          EXPLICIT_ONLY + ': implicit FTPS implies PBSZ 0',
        ),
  );
  out.push(ctx.protPoint);
  out.push(await protClear(t));
  out.push(
    explicit ? await ccc(t) : notApplicable('ccc', 'CCC (control connection back to clear)', EXPLICIT_ONLY),
  );
  out.push(
    explicit
      ? await userInClear(t)
      : notApplicable('user-in-clear-refused', 'USER in clear refused', EXPLICIT_ONLY),
  );
  out.push(await fullHandshakeRefused(t));
  out.push(await otherSessionRefused(t));
  out.push(...(await resumption(t)));
  return out;
}

async function pbszBeforeAuth(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'pbsz-before-auth-refused';
  const title = 'PBSZ before AUTH refused';
  return check(t, id, title, 'PBSZ 0', () =>
    withConnection(t, { auth: false, login: false }, async (c) => {
      const r = await c.request('PBSZ 0');
      return point(
        id,
        title,
        'PBSZ 0 (before AUTH)',
        brief(r),
        refusal(r),
        refusal(r) === 'fail' ? 'RFC 4217 8: PBSZ needs a security exchange first (503)' : undefined,
      );
    }),
  );
}

async function protBeforePbsz(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'prot-before-pbsz-refused';
  const title = 'PROT before PBSZ refused';
  return check(t, id, title, 'PROT P', () =>
    withConnection(t, {}, async (c) => {
      const r = await c.request('PROT P');
      return point(
        id,
        title,
        'AUTH TLS; login; PROT P (no PBSZ)',
        brief(r),
        refusal(r),
        refusal(r) === 'fail' ? 'RFC 4217 9: PROT needs PBSZ first (503)' : undefined,
      );
    }),
  );
}

async function protClear(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'prot-c';
  const title = 'PROT C accepted or refused (policy)';
  const sent = 'PBSZ 0; PROT C; if accepted, NLST over a clear data connection';
  return check(t, id, title, sent, () =>
    withConnection(t, {}, async (c) => {
      await c.request('PBSZ 0');
      const r = await c.request('PROT C');
      if (!isPositiveCompletion(r))
        return point(id, title, sent, brief(r), 'pass', 'refused: data connections must be protected');
      // Accepted: whether clear data is really allowed shows only at a transfer (vsftpd's
      // force_local_data_ssl answers 522 there, Pure-FTPd -Y 3 521).
      const o = await exchange(c, { command: 'NLST', tls: false });
      const received = `${brief(r)}; ${describeOutcome(o)}`;
      const answer = o.endpointRefused ?? o.final;
      const refusedBy = answer ? brief(answer) : (o.error ?? 'no reply');
      if (succeeded(o))
        return point(
          id,
          title,
          sent,
          received,
          'pass',
          'accepted, and a listing came over a clear data connection: this server allows clear data connections',
        );
      return point(
        id,
        title,
        sent,
        received,
        'pass',
        `PROT C accepted, but the clear data connection was refused (${refusedBy}): data connections must be protected all the same`,
      );
    }),
  );
}

async function ccc(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'ccc';
  const title = 'CCC (control connection back to clear)';
  const sent = 'PBSZ 0; PROT P; CCC; close_notify; NOOP in clear';
  return check(t, id, title, sent, () =>
    withConnection(t, {}, async (c) => {
      await c.request('PBSZ 0');
      await c.request('PROT P');
      const r = await c.request('CCC');
      if (isNegative(r))
        return point(
          id,
          title,
          'CCC',
          brief(r),
          'not-supported',
          'refused (a policy choice: the control connection stays encrypted)',
        );
      await c.control.stopTls();
      const noop = await c.request('NOOP');
      const ok = isPositiveCompletion(noop);
      return point(
        id,
        title,
        sent,
        `${brief(r)}; ${brief(noop)}`,
        ok ? 'pass' : 'fail',
        ok ? undefined : 'no answer in clear after CCC',
      );
    }),
  );
}

async function userInClear(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'user-in-clear-refused';
  const title = 'USER in clear refused (TLS required)';
  const sent = `USER ${t.user} (before AUTH)`;
  return check(t, id, title, sent, () =>
    withConnection(t, { auth: false, login: false }, async (c) => {
      const r = await c.request(`USER ${t.user}`);
      // Never send PASS in clear: end the connection at once.
      if (!isNegative(r)) c.destroy();
      const [verdict, why] = userInClearVerdict(t.user, r);
      return point(id, title, sent, brief(r), verdict, why);
    }),
  );
}

/**
 * Refused is a pass; taken is a fail, except for an anonymous login: its password is no secret,
 * and many servers answer 331 to any name (vsftpd refusing every real login in clear does).
 */
export function userInClearVerdict(user: string, r: Reply): [Verdict, string | undefined] {
  if (isNegative(r)) return ['pass', undefined];
  if (ANONYMOUS.has(user.toLowerCase()))
    return [
      'not-applicable',
      `${r.code} to USER ${user} says nothing of real accounts: name one in the URL (ftp://USER@HOST/) to check them`,
    ];
  return ['fail', 'the server takes a login without TLS: passwords can travel in clear'];
}

const ANONYMOUS = new Set(['anonymous', 'ftp']);

/** A data connection that does not resume: passes when the server refuses it. */
function refusedData(o: DataOutcome): boolean {
  return !succeeded(o);
}

async function fullHandshakeRefused(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'data-full-handshake-refused';
  const title = 'Data connection must resume the control session (full handshake refused)';
  const sent = 'NLST; data: full TLS handshake (no session offered)';
  return check(t, id, title, sent, async () => {
    const c = await protectedSession(t);
    try {
      const o = await exchange(c, {
        command: 'NLST',
        tls: { session: undefined },
        finalWaitMs: REFUSED_WAIT_MS,
      });
      return point(
        id,
        title,
        sent,
        describeOutcome(o),
        refusedData(o) ? 'pass' : 'fail',
        refusedData(o)
          ? undefined
          : 'any client can take this data connection: nothing binds it to the control session (RFC 4217 10.2)',
      );
    } finally {
      await c.close();
    }
  });
}

async function otherSessionRefused(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'data-other-session-refused';
  const title = "Data connection with another session's TLS session refused";
  const sent = 'NLST; data: resume the TLS session of a second control connection';
  return check(t, id, title, sent, async () => {
    const a = await protectedSession(t);
    const b = await ProbeConnection.open(t).catch(async (err: unknown) => {
      await a.close();
      throw err;
    });
    try {
      const foreign = b.control.dataSession();
      const o = await exchange(a, {
        command: 'NLST',
        tls: { session: foreign },
        finalWaitMs: REFUSED_WAIT_MS,
      });
      const ok = refusedData(o);
      const why = o.reused
        ? 'the session of another control connection resumed here'
        : 'a full handshake was accepted instead';
      return point(id, title, sent, describeOutcome(o), ok ? 'pass' : 'fail', ok ? undefined : why);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

interface ResumeKind {
  readonly id: string;
  readonly title: string;
  readonly control: tls.ConnectionOptions;
}

const RESUME_KINDS: readonly ResumeKind[] = [
  { id: 'resume-tls13-ticket', title: 'Resumption: TLS 1.3 ticket', control: { minVersion: 'TLSv1.3' } },
  {
    id: 'resume-tls12-session-id',
    title: 'Resumption: TLS 1.2 session ID',
    control: { maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET },
  },
  {
    id: 'resume-tls12-ticket',
    title: 'Resumption: TLS 1.2 session ticket',
    control: { maxVersion: 'TLSv1.2' },
  },
];

/** Which kinds of resumption work, and whether a data connection's own (newer) session resumes too. */
async function resumption(t: ProbeTarget): Promise<ProbePoint[]> {
  const out: ProbePoint[] = [];
  for (const k of RESUME_KINDS) {
    const sent = `control ${k.id.includes('13') ? 'TLS 1.3' : 'TLS 1.2'}; NLST; data: resume the control's session`;
    out.push(
      await check(t, k.id, k.title, sent, async () => {
        let c: ProbeConnection;
        try {
          c = await protectedSession(t, { tls: k.control });
        } catch (err) {
          return point(
            k.id,
            k.title,
            sent,
            shortError(err),
            'not-supported',
            'the control connection cannot use this TLS version',
          );
        }
        try {
          const sock = c.tlsSocket;
          // A server without TLS 1.2 (vsftpd with TLS 1.0 only) gives an older version: not this point.
          const got = sock?.getProtocol();
          if (k.id.startsWith('resume-tls12') && got !== 'TLSv1.2')
            return notApplicable(k.id, k.title, `the control connection got ${got ?? 'no TLS'}, not TLS 1.2`);
          if (k.id === 'resume-tls12-ticket' && sock && !sock.getTLSTicket())
            return point(k.id, k.title, sent, 'no session ticket issued', 'not-supported');
          const session = c.control.dataSession();
          const o = await exchange(c, {
            command: 'NLST',
            tls: { session, options: k.control },
            finalWaitMs: REFUSED_WAIT_MS,
          });
          const v = succeeded(o) && o.reused ? 'pass' : 'not-supported';
          return point(k.id, k.title, sent, describeOutcome(o), v);
        } finally {
          await c.close();
        }
      }),
    );
  }
  out.push(await newestSession(t));
  return out;
}

/**
 * Whether a data connection's own session, newer than the control's, resumes too (TLS 1.3 gives
 * each connection new tickets; a client may offer the latest). A TLS 1.2 data connection that
 * resumed the control's session and got no new session or ticket holds that same session (same
 * ID and secret, which Node tells with no 'session' event): there is no newer one, so the point
 * does not apply (offering it is offering the control's, which resume-tls12-* judge).
 */
export async function newestSession(t: ProbeTarget): Promise<ProbePoint> {
  const id = 'resume-newest-session';
  const title = "Resumption of the data connection's newer session (not only the control's)";
  const sent = "NLST twice: the second data connection resumes the first one's session";
  return check(t, id, title, sent, async () => {
    const c = await protectedSession(t);
    try {
      const first = await exchange(c, { command: 'NLST', tls: { session: c.control.dataSession() } });
      if (succeeded(first) && !first.session && first.reused && first.tlsVersion !== 'TLSv1.3')
        return point(
          id,
          title,
          sent,
          describeOutcome(first),
          'not-applicable',
          `${first.tlsVersion ?? 'TLS'}: the first data connection resumed the control's session and was given no newer one (a resumed TLS 1.2 session is the same session): nothing newer to offer`,
        );
      if (!succeeded(first) || !first.session)
        return point(
          id,
          title,
          sent,
          describeOutcome(first),
          'not-supported',
          'the first data connection gave no session to resume',
        );
      const second = await exchange(c, {
        command: 'NLST',
        tls: { session: first.session },
        finalWaitMs: REFUSED_WAIT_MS,
      });
      const v = succeeded(second) && second.reused ? 'pass' : 'not-supported';
      return point(
        id,
        title,
        sent,
        describeOutcome(second),
        v,
        v === 'pass'
          ? undefined
          : "only the control connection's session resumes (clients must keep offering it)",
      );
    } finally {
      await c.close();
    }
  });
}
