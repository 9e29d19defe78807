import { randomBytes } from 'node:crypto';
import { addressKind, parsePasvReply, sameHost, toIPv4 } from '../../protocol/address.js';
import { Code } from '../../protocol/codes.js';
import {
  isNegative,
  isPositiveCompletion,
  isPreliminary,
  replyLine,
  type Reply,
} from '../../protocol/reply.js';
import { delay } from '../waits.js';
import { NotCompletedError, ProbeConnection, brief } from './connection.js';
import { check, notApplicable, notCompleted, protectedSession, type ProbeContext } from './context.js';
import {
  describeOutcome,
  exchange,
  holdTransfer,
  succeeded,
  type DataMode,
  type HeldTransfer,
} from './data.js';
import { point, type ProbePoint, type Verdict } from './types.js';

/** FTP features: data connection modes, the PASV address, MLSx, SIZE/MDTM/MFMT/HASH, REST, UTF8, ABOR, STAT. */

/** A file must be at least this large for a RETR to still be running when ABOR or STAT comes. */
export const HOLD_MIN_SIZE = 4 * 1024 * 1024;

/** `bigRefused`: why `--write` could not make the large file ABOR and STAT need (its upload refused). */
export async function featurePoints(
  ctx: ProbeContext,
  big: string | undefined,
  bigRefused?: string,
): Promise<ProbePoint[]> {
  const out: ProbePoint[] = [];
  // One session for the data modes and the commands, opened by the first check that needs it: if
  // it cannot be had (refused, or the login or PROT P was refused), each of them says so.
  let opened: Promise<ProbeConnection> | undefined;
  const st = ctx.t.state;
  const session = (): Promise<ProbeConnection> => {
    // PROT P refused: the commands still run on a session without it, the data connections not.
    opened ??= st.protRefused !== undefined ? binarySession(ctx) : protectedSession(ctx.t);
    return opened.catch((err: unknown) => {
      // Every check that needed it is stopped, not only the first.
      if (err instanceof NotCompletedError) ctx.t.state.stop(err.why);
      throw err;
    });
  };
  try {
    let pasv: ProbePoint | undefined;
    let pasvReply: Reply | undefined;
    for (const mode of ['epsv', 'pasv', 'eprt', 'port'] as const) {
      const m = await dataMode(ctx, session, mode);
      out.push(m.point);
      if (mode === 'pasv') {
        pasv = m.point;
        pasvReply = m.endpointReply;
      }
    }
    out.push(
      pasv?.verdict === 'not-completed'
        ? notCompleted('pasv-address', PASV_ADDRESS_TITLE, 'PASV', pasv.detail ?? '')
        : pasvAddress((await session().catch(() => undefined))?.control.remoteAddress, pasvReply),
    );
    out.push(...(await commands(ctx, session)));
  } finally {
    await opened?.then(
      (c) => c.close(),
      () => {},
    );
  }
  out.push(await abor(ctx, big, bigRefused));
  out.push(await statDuring(ctx, big, bigRefused));
  return out;
}

/** A logged-in session in TYPE I, without PBSZ/PROT. */
async function binarySession(ctx: ProbeContext): Promise<ProbeConnection> {
  const c = await ProbeConnection.open(ctx.t);
  await c.request('TYPE I').catch((err: unknown) => {
    c.destroy();
    throw err;
  });
  return c;
}

/** The session for a data connection: not completed once PBSZ/PROT P were refused (explicit). */
async function dataSession(
  ctx: ProbeContext,
  session: () => Promise<ProbeConnection>,
): Promise<ProbeConnection> {
  const st = ctx.t.state;
  if (ctx.t.security === 'explicit' && st.protRefused !== undefined) st.stop(st.protRefused);
  return session();
}

const MODE_TITLES: Readonly<Record<DataMode, string>> = {
  epsv: 'EPSV (extended passive)',
  pasv: 'PASV (passive)',
  eprt: 'EPRT (extended active)',
  port: 'PORT (active)',
};

async function dataMode(
  ctx: ProbeContext,
  session: () => Promise<ProbeConnection>,
  mode: DataMode,
): Promise<{ point: ProbePoint; endpointReply?: Reply }> {
  const id = mode;
  const title = MODE_TITLES[mode];
  const sent = `${mode.toUpperCase()}; NLST`;
  let endpointReply: Reply | undefined;
  const p = await check(ctx.t, id, title, sent, async () => {
    const c = await dataSession(ctx, session);
    const local = c.control.localAddress;
    if (mode === 'port' && toIPv4(local) === undefined)
      return notApplicable(id, title, `PORT cannot carry an IPv6 address (${local}); EPRT does (RFC 2428)`);
    const tlsPlan = ctx.t.security === 'none' ? false : { session: c.control.dataSession() };
    const o = await exchange(c, { command: 'NLST', mode, tls: tlsPlan });
    if (o.endpointRefused) return point(id, title, sent, brief(o.endpointRefused), 'not-supported');
    endpointReply = o.endpointReply;
    return point(id, title, sent, describeOutcome(o), succeeded(o) ? 'pass' : 'fail');
  });
  return endpointReply ? { point: p, endpointReply } : { point: p };
}

const PASV_ADDRESS_TITLE = 'PASV address equal to the control address';

/** The PASV reply's address against the control connection's (`control`: undefined without a session). */
export function pasvAddress(control: string | undefined, r: Reply | undefined): ProbePoint {
  const id = 'pasv-address';
  const title = PASV_ADDRESS_TITLE;
  if (!r || control === undefined) return notApplicable(id, title, 'PASV not offered');
  const hp = parsePasvReply(replyLine(r));
  if (!hp) return point(id, title, 'PASV', brief(r), 'fail', 'no address in the reply');
  if (sameHost(hp.host, control)) return point(id, title, 'PASV', `${hp.host} (control: ${control})`, 'pass');
  return point(
    id,
    title,
    'PASV',
    `${hp.host} (control: ${control})`,
    'fail',
    `${article(addressKind(hp.host))} address, not the control connection's: clients must ignore it`,
  );
}

async function commands(ctx: ProbeContext, session: () => Promise<ProbeConnection>): Promise<ProbePoint[]> {
  const f = ctx.features;
  const out: ProbePoint[] = [];
  const sample = ctx.sample;

  const mlst = f.get('MLST');
  out.push(
    await check(ctx.t, 'mlst', 'MLST facts', 'MLST', async () => {
      if (mlst === undefined) return point('mlst', 'MLST facts', 'FEAT', 'no MLST line', 'not-supported');
      const c = await session();
      const r = await c.request(sample ? `MLST ${sample.name}` : 'MLST');
      return point(
        'mlst',
        'MLST facts',
        sample ? `MLST ${sample.name}` : 'MLST',
        `${brief(r)}${r.lines[1] !== undefined ? ` | ${r.lines[1].trim()}` : ''}`,
        isPositiveCompletion(r) ? 'pass' : 'fail',
        `FEAT: MLST ${mlst}`,
      );
    }),
  );
  out.push(
    await check(ctx.t, 'mlsd', 'MLSD', 'MLSD', async () => {
      if (mlst === undefined) return point('mlsd', 'MLSD', 'FEAT', 'no MLST line', 'not-supported');
      const c = await dataSession(ctx, session);
      const o = await exchange(c, {
        command: 'MLSD',
        tls: ctx.t.security === 'none' ? false : { session: c.control.dataSession() },
      });
      return point('mlsd', 'MLSD', 'MLSD', describeOutcome(o), succeeded(o) ? 'pass' : 'fail');
    }),
  );
  const isFileStatus = (r: Reply): boolean => r.code === Code.FileStatus;
  out.push(await fileCommand(ctx, session, 'size', 'SIZE', f.has('SIZE'), isFileStatus));
  out.push(await fileCommand(ctx, session, 'mdtm', 'MDTM', f.has('MDTM'), isFileStatus));
  out.push(await mfmt(ctx, session, f.has('MFMT')));
  out.push(await fileCommand(ctx, session, 'hash', 'HASH', f.has('HASH'), isFileStatus, f.get('HASH')));
  out.push(
    await check(ctx.t, 'rest-stream', 'REST STREAM', 'REST 0', async () => {
      const offered = (f.get('REST') ?? '').toUpperCase().includes('STREAM');
      const r = await (await session()).request('REST 0');
      const ok = r.code === Code.PendingFurtherInfo;
      const v: Verdict = ok ? (offered ? 'pass' : 'fail') : offered ? 'fail' : 'not-supported';
      return point(
        'rest-stream',
        'REST STREAM',
        'REST 0',
        brief(r),
        v,
        offered ? 'FEAT: REST STREAM' : ok ? 'works but FEAT does not list REST STREAM' : undefined,
      );
    }),
  );
  out.push(await utf8(ctx, session));
  return out;
}

/**
 * UTF8 as RFC 2640 defines it: a server that uses UTF-8 path names lists `UTF8` in FEAT (3.3), and
 * that is all a client needs. `OPTS UTF8 ON` comes from an expired draft
 * (draft-ietf-ftpext-utf-8-option); whether it is accepted is told, not judged.
 */
function utf8(ctx: ProbeContext, session: () => Promise<ProbeConnection>): Promise<ProbePoint> {
  const id = 'utf8';
  const title = 'UTF8 (RFC 2640: FEAT lists UTF8)';
  const sent = 'FEAT; OPTS UTF8 ON';
  return check(ctx.t, id, title, sent, async () => {
    const offered = ctx.features.has('UTF8');
    const r = await (await session()).request('OPTS UTF8 ON');
    const opts = `OPTS UTF8 ON ${isPositiveCompletion(r) ? 'accepted' : 'refused'} (${brief(r)}; a draft, not RFC 2640)`;
    return point(
      id,
      title,
      sent,
      `${offered ? 'FEAT: UTF8' : 'no UTF8 line in FEAT'}; ${brief(r)}`,
      offered ? 'pass' : 'not-supported',
      offered
        ? `FEAT lists UTF8 (RFC 2640 3.3); ${opts}`
        : `FEAT does not list UTF8: clients cannot rely on UTF-8 path names (RFC 2640 3.3); ${opts}`,
    );
  });
}

async function fileCommand(
  ctx: ProbeContext,
  session: () => Promise<ProbeConnection>,
  id: string,
  verb: string,
  offered: boolean,
  ok: (r: Reply) => boolean,
  params?: string,
): Promise<ProbePoint> {
  const title = `${verb}${params !== undefined ? ` (${params})` : ''}`;
  if (!offered) return point(id, verb, 'FEAT', `no ${verb} line`, 'not-supported');
  const file = ctx.sample?.name;
  const sent = `${verb} ${file ?? ''}`;
  return check(ctx.t, id, title, sent, async () => {
    const c = await session(); // not completed when the login was refused, whatever the listing held
    if (file === undefined) {
      // No listing without protected data: that is not the server's doing.
      const st = ctx.t.state;
      if (st.protRefused !== undefined) st.stop(st.protRefused);
      return notApplicable(id, title, 'no file in the login directory to ask about');
    }
    const r = await c.request(sent);
    return point(id, title, sent, brief(r), ok(r) ? 'pass' : 'fail');
  });
}

/** MFMT on a name that does not exist: 550 proves the verb without changing anything. */
async function mfmt(
  ctx: ProbeContext,
  session: () => Promise<ProbeConnection>,
  offered: boolean,
): Promise<ProbePoint> {
  const name = `ferry-probe-absent-${randomBytes(6).toString('hex')}`;
  const sent = `MFMT 20000101000000 ${name} (a name that does not exist)`;
  return check(ctx.t, 'mfmt', 'MFMT', sent, async () => {
    const r = await (await session()).request(`MFMT 20000101000000 ${name}`);
    const known =
      isNegative(r) &&
      r.code !== Code.SyntaxError &&
      r.code !== Code.NotImplemented &&
      r.code !== Code.SyntaxErrorArgs;
    const v: Verdict = offered ? (known ? 'pass' : 'fail') : known ? 'pass' : 'not-supported';
    return point('mfmt', 'MFMT', sent, brief(r), v, offered ? 'FEAT: MFMT' : 'FEAT does not list MFMT');
  });
}

/** Reads replies until `count` arrived or none came for `ms` (then the connection is dropped). */
async function replies(c: ProbeConnection, count: number, ms: number): Promise<Reply[]> {
  const got: Reply[] = [];
  while (got.length < count) {
    const wait = delay(ms);
    const next = c.control.read(false);
    next.catch(() => {});
    const r = await Promise.race([next, wait.promise.then(() => undefined)]);
    wait.cancel();
    if (!r) {
      c.control.abandonRead();
      break;
    }
    if (!isPreliminary(r)) got.push(r);
  }
  return got;
}

const NEEDS_BIG = `needs a file of at least ${HOLD_MIN_SIZE >> 20} MiB in the login directory, or --write`;

/**
 * Runs `during` while a RETR of `big` is running, its first bytes read and the rest left unread,
 * on a session of its own (then dropped).
 */
function whileTransferring(
  ctx: ProbeContext,
  big: string | undefined,
  bigRefused: string | undefined,
  id: string,
  title: string,
  sent: string,
  during: (c: ProbeConnection, held: HeldTransfer) => Promise<ProbePoint>,
): Promise<ProbePoint> {
  const st = ctx.t.state;
  const blocked =
    st.refused ?? st.noLogin ?? (ctx.t.security === 'explicit' ? st.protRefused : undefined) ?? bigRefused;
  if (big === undefined)
    return Promise.resolve(
      // No file to read because the listing or --write's upload was refused: not a verdict on ABOR/STAT.
      blocked !== undefined ? notCompleted(id, title, sent, blocked) : notApplicable(id, title, NEEDS_BIG),
    );
  return check(ctx.t, id, title, sent, async () => {
    const c = await protectedSession(ctx.t);
    let held: HeldTransfer | undefined;
    try {
      const h = await holdTransfer(c, `RETR ${big}`, c.control.dataSession());
      if ('failed' in h) return point(id, title, sent, h.failed, 'fail', 'the transfer did not start');
      held = h.held;
      return await during(c, held);
    } finally {
      held?.reset(); // `during` resets it when it runs to the end; a second reset does nothing
      c.destroy();
    }
  });
}

function abor(ctx: ProbeContext, big: string | undefined, bigRefused?: string): Promise<ProbePoint> {
  const id = 'abor';
  const title = 'ABOR during a transfer: 426 (transfer) before 226 (ABOR)';
  const sent = `RETR ${big ?? ''} (first bytes read, then not read); ABOR; reset the data connection`;
  return whileTransferring(ctx, big, bigRefused, id, title, sent, async (c, held) => {
    c.control.write('ABOR');
    // A reply during a blocked transfer may take as long as any other (--timeout): a loaded server
    // is slow, not one that makes ABOR wait for the transfer.
    const early = await replies(c, 1, ctx.t.timeoutMs);
    held.reset();
    const rest = await replies(c, 2 - early.length, ctx.t.timeoutMs);
    const all = [...early, ...rest];
    const codes = all.map((r) => String(r.code)).join(', ');
    const received = `${codes}${early.length === 0 ? ' (after the reset; nothing while the transfer was blocked)' : ''}`;
    const [a, b] = all;
    if (a && b && isNegative(a) && isPositiveCompletion(b)) return point(id, title, sent, received, 'pass');
    if (a && b && isPositiveCompletion(a) && isPositiveCompletion(b) && a.code === Code.ClosingDataSuccess)
      return point(
        id,
        title,
        sent,
        received,
        'pass',
        `the transfer had completed (its 226) before ABOR, which then had nothing to abort (${b.code})`,
      );
    const why =
      a && b && isPositiveCompletion(a) && isNegative(b)
        ? "ABOR's reply came before the transfer's 426 (RFC 959 4.1.3: 426, then 226)"
        : all.length === 1 && a && a.code === Code.ClosingDataSuccess
          ? 'one 226 for both: the aborted transfer was not reported with 426'
          : all.length === 1 && a && isPositiveCompletion(a)
            ? `ABOR answered ${a.code} (no transfer in progress) while the transfer was running: its first bytes had arrived`
            : undefined;
    return point(id, title, sent, received || 'no reply', 'fail', why);
  });
}

function statDuring(ctx: ProbeContext, big: string | undefined, bigRefused?: string): Promise<ProbePoint> {
  const id = 'stat-during-transfer';
  const title = 'STAT answered during a transfer';
  const sent = `RETR ${big ?? ''} (first bytes read, then not read); STAT`;
  return whileTransferring(ctx, big, bigRefused, id, title, sent, async (c, held) => {
    c.control.write('STAT');
    const [r] = await replies(c, 1, ctx.t.timeoutMs);
    held.reset();
    if (!r)
      return point(
        id,
        title,
        sent,
        `no reply within ${ctx.t.timeoutMs} ms`,
        'not-supported',
        'STAT waits for the transfer to end',
      );
    const ok = r.code === Code.SystemStatus || r.code === Code.DirectoryStatus || r.code === Code.FileStatus;
    return point(id, title, sent, brief(r), ok ? 'pass' : isNegative(r) ? 'not-supported' : 'fail');
  });
}

/** `an unspecified`, `a public`. */
function article(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
