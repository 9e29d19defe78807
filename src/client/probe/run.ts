import { Code } from '../../protocol/codes.js';
import { isPositiveCompletion } from '../../protocol/reply.js';
import { LoginError } from '../errors.js';
import { parseListText, parseMlsdText, type RemoteEntry } from '../listing.js';
import { FerryError } from '../../errors.js';
import { formatReply, type Reply } from '../../protocol/reply.js';
import {
  NotCompletedError,
  ProbeConnection,
  ProbeState,
  TLS_FAILED,
  brief,
  droppedBeforeTls,
  silence,
  timedOut,
  type OpenOptions,
  type ProbeTarget,
} from './connection.js';
import { notCompleted, type ProbeContext } from './context.js';
import { exchange, shortError, succeeded } from './data.js';
import { HOLD_MIN_SIZE, featurePoints } from './features.js';
import { msFtpsPoints } from './ms-ftps.js';
import { rfc4217Points } from './rfc4217.js';
import { tlsPoints } from './tls.js';
import {
  CONFORMANCE_GROUPS,
  GROUP_TITLES,
  PROBE_SCHEMA,
  point,
  type GroupId,
  type ProbeGroup,
  type ProbePoint,
  type ProbeReport,
} from './types.js';
import { WriteArea, writeNotApplicable } from './write.js';

/**
 * `ferry probe`: runs every check against one server, in order and one connection at a time (so a
 * server's per-address limits and the order of events stay predictable), and builds the report.
 * A first connection that cannot be made is thrown (exit code 3); one turned away, unanswered, not
 * FTP, or whose TLS failed is reported (TLS failed: the checks in clear only); a refused login or
 * PBSZ/PROT is reported, and after the start each check records its own failure as a point, or as
 * not completed when the server stopped letting the probe in (ProbeState).
 */

export interface ProbeOptions {
  /** The server and how to reach it (the probe adds its own state); its `signal` interrupts the probe. */
  readonly target: Omit<ProbeTarget, 'state'>;
  /** The URL as the user wrote it, without the password. */
  readonly url: string;
  /** `--write DIR`: a directory the write checks may use (created files are deleted). */
  readonly writeDir?: string;
  /** Filled in as the probe writes: the caller can name what is left at any time (a second Ctrl-C). */
  readonly made?: Made;
}

/** What `--write` made: its area (once the checks start), and whether its cleanup left it clean. */
export class Made {
  area?: WriteArea;
  cleanedUp?: boolean;

  /** The files that may be on the server now. */
  get left(): readonly string[] {
    return this.area?.left ?? [];
  }
}

/** How long the files of `--write` may take to delete after an interruption. */
export const INTERRUPTED_CLEANUP_MS = 5000;

/**
 * The probe was interrupted (its target's signal: SIGINT, SIGTERM) before its report: its
 * connections were closed and what `--write` made deleted, as far as `INTERRUPTED_CLEANUP_MS` allowed.
 */
export class ProbeInterrupted extends Error {
  constructor(
    /** The files that may still be on the server (a failed or unfinished cleanup). */
    readonly left: readonly string[],
  ) {
    super(left.length === 0 ? 'Interrupted.' : `Interrupted; may be left on the server: ${left.join(', ')}`);
    this.name = 'ProbeInterrupted';
  }
}

export async function runProbe(o: ProbeOptions): Promise<ProbeReport> {
  const signal = o.target.signal;
  const made = o.made ?? new Made();
  const probing = probe(o, made);
  if (!signal) return probing;
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ProbeInterrupted([]));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([probing, aborted]);
  } catch (err) {
    if (!signal.aborted) throw err;
    // The signal closed the probe's connections and keeps it from opening more: what it still
    // does is not waited for, only the deletion of what it made.
    probing.catch(() => {});
    throw new ProbeInterrupted(made.area ? await made.area.cleanUpWithin(INTERRUPTED_CLEANUP_MS) : []);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function probe(o: ProbeOptions, made: Made): Promise<ProbeReport> {
  const started = Date.now();
  const state = new ProbeState();
  let t: ProbeTarget = { ...o.target, state };
  const prelude: ProbePoint[] = [];
  // The first session: connecting must work (else exit 3); a server that turns the probe away,
  // stops answering or is no FTP server still gets a report. Securing it: a failed TLS leaves the
  // checks in clear (exit 4). A refused login (or none, for a certificate not trusted) or PBSZ/PROT
  // is reported, and the checks that need them are marked not completed. ftp:// is probed as
  // ftpes:// (never a login in clear), its reply to AUTH TLS one more point: is TLS offered?
  const plain = t.security === 'none';
  if (plain) t = { ...t, security: 'explicit' };
  let auth: Reply | undefined;
  const first = await openFirst(t, { login: false, onAuth: (r) => (auth = r) });
  if (plain)
    prelude.push(tlsOffered(auth, 'why' in first ? first.why : 'tlsFailed' in first ? first.tlsFailed : ''));
  if ('why' in first) return refusedReport(o, t, first, started, prelude, made);
  let base: ProbeConnection;
  if ('tlsFailed' in first) {
    state.noTls = first.tlsFailed;
    state.noLogin = first.tlsFailed; // never a password without TLS
    const why = { why: first.tlsFailed, greeting: first.greeting };
    if (t.security !== 'explicit') return refusedReport(o, t, why, started, prelude, made);
    const clear = await openFirst(t, { login: false, auth: false });
    if (!(clear instanceof ProbeConnection))
      return refusedReport(o, t, 'why' in clear ? clear : why, started, prelude, made);
    base = clear;
  } else base = first;
  let ctx: ProbeContext;
  try {
    try {
      await base.login();
    } catch (err) {
      // NotCompletedError: the certificate is not trusted, no password was sent (state.noLogin says so).
      if (err instanceof LoginError) state.noLogin = `login refused: ${err.replyCode} ${err.replyText}`;
      else if (!(err instanceof NotCompletedError)) throw err;
    }
    const protPoint = await pbszProt(base, t, state);
    if (state.noLogin === undefined) await base.request('TYPE I');
    const feat = await base.features(); // FEAT before a login is allowed (RFC 2389)
    const listing =
      state.noLogin === undefined && state.protRefused === undefined
        ? await exchange(base, {
            command: feat.map.has('MLST') ? 'MLSD' : 'LIST',
            tls: { session: base.control.dataSession() },
          })
        : undefined;
    const entries: RemoteEntry[] =
      listing && succeeded(listing)
        ? feat.map.has('MLST')
          ? parseMlsdText(listing.data.toString('utf8'))
          : parseListText(listing.data.toString('utf8'))
        : [];
    const files = entries
      .filter((e) => e.type === 'file' && !/[\r\n]/.test(e.name))
      .sort((a, b) => (b.size ?? 0) - (a.size ?? 0));
    const largest = files[0];
    ctx = {
      t,
      greeting: base.greeting,
      features: feat.map,
      sample: largest ? { name: largest.name, size: largest.size ?? 0 } : undefined,
      writeDir: o.writeDir,
      limits: [],
      protPoint,
    };
  } finally {
    await base.close();
  }
  state.started = true;
  const groups = await checks(ctx, prelude, made);
  return report(o, t, greetingLine(ctx.greeting), started, groups, ctx.limits, writeOf(made));
}

/** Every group's checks; `made.area` is what `--write` makes, deleted as soon as they are done. */
async function checks(
  ctx: ProbeContext,
  prelude: readonly ProbePoint[],
  made: Made,
): Promise<{ id: GroupId; points: readonly ProbePoint[] }[]> {
  const area = ctx.writeDir !== undefined ? new WriteArea(ctx.t, ctx.writeDir) : undefined;
  made.area = area;
  try {
    // The checks that use what --write makes come first, and its files go right after them: they
    // are not left on the server during the rest of the probe (nor after a ban midway).
    const writes = area ? await area.run() : writeNotApplicable();
    let big = ctx.sample && ctx.sample.size >= HOLD_MIN_SIZE ? ctx.sample.name : undefined;
    if (!big && area) big = await area.bigFile();
    const feats = [...(await featurePoints(ctx, big, area?.bigRefused)), writes.restStor, writes.replace];
    if (area) made.cleanedUp = await area.cleanup();
    const ms = await msFtpsPoints(ctx);
    const rfc = [...prelude, ...(await rfc4217Points(ctx)), writes.truncation];
    const tlsGroup = await tlsPoints(ctx);
    return [
      { id: 'ms-ftps', points: ms },
      { id: 'rfc4217', points: rfc },
      { id: 'features', points: feats },
      { id: 'tls', points: tlsGroup },
    ];
  } catch (err) {
    if (area && made.cleanedUp === undefined) await area.cleanup().catch(() => false);
    throw err;
  }
}

function writeOf(made: Made): ProbeReport['write'] {
  if (!made.area) return null;
  const cleanedUp = made.cleanedUp ?? true;
  return cleanedUp
    ? { dir: made.area.dir, cleanedUp }
    : { dir: made.area.dir, cleanedUp, left: made.area.left };
}

const TLS_OFFERED = 'TLS offered on the plain FTP port (AUTH TLS)';

/** ftp://'s first point: the reply to AUTH TLS; none (silence, a refused connection): not completed, with why. */
function tlsOffered(auth: Reply | undefined, why: string): ProbePoint {
  if (auth === undefined) return notCompleted('tls-offered', TLS_OFFERED, 'AUTH TLS', why);
  const offered = auth.code === Code.SecurityExchangeComplete || auth.code === Code.SecurityMechanismAccepted;
  return point(
    'tls-offered',
    TLS_OFFERED,
    'AUTH TLS',
    brief(auth),
    offered ? 'pass' : 'fail',
    offered
      ? 'the rest of the probe runs as explicit FTPS (ftpes://)'
      : 'passwords and files travel in clear',
  );
}

/**
 * The server turned the probe's first connection away, stopped answering or is no FTP server: why
 * (a report's reason), and its greeting or `-`.
 */
interface Refusal {
  readonly why: string;
  readonly greeting: string;
}

/** The first connection's TLS failed (AUTH TLS refused, a failed handshake): `TLS failed: …`. */
interface TlsFailure {
  readonly tlsFailed: string;
  readonly greeting: string;
}

/**
 * The probe's first connection; or its refusal as a ban or a connection limit does it (a 421
 * greeting, the connection closed before the greeting or the TLS handshake), a server that sent
 * nothing in time (hung, stopped, or implicit FTPS asked for explicit), one that is no FTP server,
 * or a failed TLS. A connection that cannot be made (nothing listening) is thrown: there is nothing
 * to report.
 */
async function openFirst(t: ProbeTarget, o: OpenOptions): Promise<ProbeConnection | Refusal | TlsFailure> {
  let greeted: Reply | undefined;
  try {
    return await ProbeConnection.open(t, { ...o, onGreeting: (g) => (greeted = g) });
  } catch (err) {
    const text = err instanceof Error ? err.message : '';
    const refusedBy = /^The server refused the connection: (4\d\d .*)$/.exec(text)?.[1];
    if (refusedBy !== undefined)
      return { why: `server refused the connection: ${refusedBy}`, greeting: refusedBy };
    const greeting = greeted ? greetingLine(greeted) : '-';
    if (timedOut(err)) return { why: silence(t), greeting };
    if (err instanceof FerryError && err.code === 'ERR_PROTOCOL')
      return { why: `${NOT_FTP}: ${shortError(err)}`, greeting };
    const refused =
      (err as { systemCode?: string }).systemCode === 'ECONNREFUSED' || /ECONNREFUSED/.test(text);
    if (refused) throw err;
    if (droppedBeforeTls(err)) {
      const before =
        t.security === 'implicit' || greeted ? 'the TLS handshake' : 'the greeting or the TLS handshake';
      return { why: `server refused the connection: closed before ${before}`, greeting };
    }
    if (err instanceof FerryError && err.code === 'ERR_TLS')
      return { tlsFailed: `${TLS_FAILED}: ${shortError(err)}`, greeting };
    throw err;
  }
}

/** How the reason for a first connection that did not get FTP replies begins. */
export const NOT_FTP = 'not an FTP server';

/**
 * The report of a server that turned the probe away from its first connection: every check is run
 * as after a refusal midway (no connection is made), and every point is not completed, with why.
 */
async function refusedReport(
  o: ProbeOptions,
  t: ProbeTarget,
  { why, greeting }: Refusal,
  started: number,
  prelude: readonly ProbePoint[],
  made: Made,
): Promise<ProbeReport> {
  t.state.started = true;
  t.state.refused = why;
  const ctx: ProbeContext = {
    t,
    greeting: { code: Code.ServiceNotAvailable, lines: [why] }, // none was read (and no check reads it)
    features: new Map(),
    sample: undefined,
    writeDir: o.writeDir,
    limits: [],
    protPoint: notCompleted('pbsz-prot-p', PROT_TITLE, 'PBSZ 0; PROT P (after login)', why),
  };
  const groups = (await checks(ctx, prelude, made)).map((g) => ({
    id: g.id,
    points: g.points.map((p) => notCompleted(p.id, p.title, p.sent, why)),
  }));
  return report(o, t, greeting, started, groups, [], writeOf(made));
}

/** A greeting as received, every line (`220-…` then `220 …` when it has several), joined by `\n`. */
function greetingLine(g: Reply): string {
  return formatReply(g)
    .split('\r\n')
    .filter((l) => l !== '')
    .join('\n');
}

const PROT_TITLE = 'PBSZ 0 and PROT P accepted (protected data connections)';

/**
 * PBSZ 0 and PROT P on the first session. Explicit FTPS: refused → the point fails, and every
 * check that needs protected data is not completed. Implicit: they are implied, refusals are fine.
 */
async function pbszProt(base: ProbeConnection, t: ProbeTarget, state: ProbeState): Promise<ProbePoint> {
  const id = 'pbsz-prot-p';
  const sent = 'PBSZ 0; PROT P (after login)';
  if (state.noLogin !== undefined) return notCompleted(id, PROT_TITLE, sent, state.noLogin);
  const pbsz = await base.request('PBSZ 0');
  const prot = await base.request('PROT P');
  const received = `${brief(pbsz)}; ${brief(prot)}`;
  const ok = isPositiveCompletion(pbsz) && isPositiveCompletion(prot);
  if (t.security !== 'explicit')
    return point(
      id,
      PROT_TITLE,
      sent,
      received,
      ok ? 'pass' : 'not-applicable',
      ok ? undefined : 'implicit FTPS implies PBSZ 0 / PROT P (see implicit-prot-implied)',
    );
  if (ok) return point(id, PROT_TITLE, sent, received, 'pass');
  state.protRefused = `PBSZ 0 / PROT P refused: ${brief(pbsz)} / ${brief(prot)}`;
  return point(
    id,
    PROT_TITLE,
    sent,
    received,
    'fail',
    'RFC 4217 9: without PROT P every data connection is in clear; the checks that need protected data were not done',
  );
}

function report(
  o: ProbeOptions,
  t: ProbeTarget,
  greeting: string,
  started: number,
  groups: readonly { id: GroupId; points: readonly ProbePoint[] }[],
  limits: readonly string[],
  write: ProbeReport['write'],
): ProbeReport {
  const all = groups.flatMap((g) => g.points);
  const count = (v: ProbePoint['verdict']): number => all.filter((p) => p.verdict === v).length;
  const conformant = groups
    .filter((g) => CONFORMANCE_GROUPS.includes(g.id))
    .every((g) => g.points.every((p) => p.verdict !== 'fail' && p.verdict !== 'not-completed'));
  const incomplete = [
    ...new Set(all.filter((p) => p.verdict === 'not-completed').map((p) => p.detail ?? '')),
  ];
  const out: ProbeGroup[] = groups.map((g) => ({ id: g.id, title: GROUP_TITLES[g.id], points: g.points }));
  return {
    schema: PROBE_SCHEMA,
    target: { url: o.url, host: t.host, port: t.port, security: o.target.security, user: t.user },
    greeting: greeting.split('\n')[0] ?? '-',
    greetingLines: greeting === '-' ? [] : greeting.split('\n'),
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    write,
    groups: out,
    summary: {
      pass: count('pass'),
      fail: count('fail'),
      notSupported: count('not-supported'),
      notApplicable: count('not-applicable'),
      notCompleted: count('not-completed'),
      conformant,
      complete: incomplete.length === 0,
      incomplete,
    },
    limits,
  };
}
