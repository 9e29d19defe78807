import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { AccountGone, Principal } from '../auth/types.js';
import { FerryError, QuotaError, replyForError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Code, type ReplyCode } from '../protocol/codes.js';
import { fitReply } from '../protocol/failure-codes.js';
import {
  parseCommand,
  redactCommand,
  type CommandOf,
  type ParsedLine,
  type Verb,
} from '../protocol/command.js';
import { LineReader } from '../protocol/line-reader.js';
import { formatMiddle, formatOpening, formatReply, reply, type Reply } from '../protocol/reply.js';
import { normalizeAddress } from '../protocol/address.js';
import { activeRoute } from '../protocol/active-route.js';
import { entryExists, resolveClientPath } from './home-path.js';
import type { StorageContext, VPath } from '../storage/types.js';
import type { DefenderPort } from '../defender/defender.js';
import { remoteFields } from './defender-service.js';
import type { CertificateStore } from '../tls/certificates.js';
import { certificateAlert } from '../tls/certificate-alerts.js';
import { peerCertificate } from '../tls/client-certificate.js';
import { ControlChannel } from '../tls/control-tls.js';
import { SessionFamily } from '../tls/session-cache.js';
import { BANNED_TEXT, type UnauthenticatedCount } from './admission.js';
import type { CommandTable } from './commands/registry.js';
import type {
  After,
  AnyCommandSpec,
  CommandContext,
  CommandSpec,
  Outcome,
  TreeChange,
  UserFiles,
} from './commands/types.js';
import { ActiveEndpoint, PassiveEndpoint, type DataPolicy } from './data-connection.js';
import type { LingeringData } from './lingering-data.js';
import { endDropping, LINGER_MS } from './graceful-end.js';
import type { Arrival, LoggedInSession, Logins } from './logins.js';
import type { ServerMetrics, SessionMode } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import { PassiveBusyError, PassiveLimitError, type PassivePorts, type PortsBusy } from './passive-ports.js';
import { guarded, refusal } from './policy.js';
import { Session, type OneShot } from './session.js';
import type { CutUploads } from './cut-uploads.js';
import { boundCommand } from './command-bound.js';
import { floodPeriodMs, type CommandRate } from './command-budget.js';
import { CommandPacing } from './command-pacing.js';
import type { HomeChecks } from './home-checks.js';
import type { HashTurns } from './hash-turns.js';
import type { HeldEntries } from './commands/listing-order.js';
import type { WarningLimiter } from './warning-limiter.js';
import { warnStorageError } from './storage-warnings.js';
import { Transfers, type TransferOutcome, type TransferProgress } from './transfers.js';
import { CONTROL_CLOSED, DESTROYED, GRACE_OVER } from './transfer-cuts.js';
import { UNCONFIGURED_PROXY_HEADER, UNTRUSTED_PROXY_HEADER, type ClientOrigin } from './proxy-edge.js';
import { proxySignature } from '../protocol/proxy-protocol.js';
import { ABANDON_AFTER_MS, abandonOnAbort } from './abandon-on-abort.js';
import { CONNECTION_CLOSED, SERVER_SHUTDOWN } from './disconnect-reasons.js';
import type { SessionActivity, SessionReport } from './session-report.js';
import { resolveVPath } from '../storage/virtual-path.js';
import { replyCharset } from './legacy-text.js';
import { policyRefusal } from '../tls/policy-refusal.js';
import {
  plainOnImplicitPort,
  silentOnImplicitPort,
  startsLikeCommand,
  startsTlsHandshake,
  tlsOnExplicitPort,
  type ListeningPorts,
} from '../protocol/wrong-mode.js';

export interface ServerRuntime {
  /** Replaced as a whole by a reload: each command reads the options of its time. */
  options: ResolvedOptions;
  readonly certificates: CertificateStore;
  /** Replaced when a reload changes the passive range (endpoints release to the one they came from). */
  passivePorts: PassivePorts;
  readonly metrics: ServerMetrics;
  readonly commands: CommandTable;
  readonly specs: readonly AnyCommandSpec[];
  readonly logger: Logger;
  readonly warnings: WarningLimiter;
  readonly logins: Logins;
  readonly defender: DefenderPort;
  readonly cutUploads: CutUploads;
  /** Logins' home checks in flight, per home (home-checks.ts). */
  readonly homeChecks: HomeChecks;
  /** HASHes running and waiting their turn (hash-turns.ts). */
  readonly hashTurns: HashTurns;
  /** The entries this process's listings hold to sort them (listing-order.ts). */
  readonly heldEntries: HeldEntries;
  /** The ports the listeners are on, to point a client on the wrong one to the other (wrong-mode.ts). */
  readonly ports: () => ListeningPorts;
  /** Refused transfers' data connections left for their clients to close (lingering-data.ts). */
  readonly lingering: LingeringData;
}

/** `legacy`: a line that was not UTF-8, read in the legacy encoding (legacyEncoding). */
type Item = (ParsedLine & { readonly legacy?: true }) | { readonly kind: 'too-long' };

/**
 * A line that is not UTF-8 (UTF8 is always on, RFC 2640), `line` as decoded with U+FFFD: a known
 * verb is refused whole, 501 after the access rules, and nothing is done. Its name must never
 * reach storage: 'r\xe9sum\xe9' and 'r\xe8sum\xe8' would both read 'r\uFFFDsum\uFFFD', one file.
 * Garbage (no verb) stays a 500 as any other.
 */
function notUtf8(line: string): Item {
  const parsed = parseCommand(line);
  if (parsed.kind === 'invalid' || parsed.kind === 'unknown') return parsed;
  const { verb, arg } = parsed.kind === 'command' ? parsed.command : parsed;
  return {
    kind: 'bad-argument',
    verb,
    arg,
    code: Code.SyntaxErrorArgs,
    reason: 'Invalid UTF-8 in the command line.',
  };
}

/** CCC or REIN: it ends the control connection's TLS session itself. */
function endsTls(item: Item | undefined): boolean {
  return item?.kind === 'command' && (item.command.verb === 'CCC' || item.command.verb === 'REIN');
}

/** An async hook's result, whose rejection must be heard. */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}

/** An embedder's error for the log: its message only (what else it carries may hold secrets). */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Per-connection bounds, so that a client that floods commands (and never reads the replies)
 * costs a bounded amount of memory: at most MAX_QUEUED parsed commands wait, and once more than
 * MAX_UNSENT bytes of replies are unsent (the client does not read them) no further command runs
 * and nothing more is read; reading resumes when the output drains. Raw input waiting in the line
 * reader is bounded by what arrived before reading paused (a few socket reads).
 */
const MAX_QUEUED = 64;
/**
 * Commands waiting behind the one charged that mark a client pipelining without reading its
 * replies (command-budget.ts's flood): one that waits for each reply has none, curl or lftp a few.
 * Half the queue, not all of it: at 5,000 a second the queue dips below full each time the socket
 * read ahead runs out, before the next read arrives.
 */
const PIPELINED = MAX_QUEUED / 2;
/**
 * Commands a session runs before it lets the event loop serve other sockets. Many (NOOP, STAT,
 * REST...) complete as microtasks, so without a turn one client's buffered pipeline (thousands of
 * lines per socket read) ran to its end while every other session, handshake and accept waited.
 */
const COMMANDS_PER_TURN = 16;
/** Directories a session remembers having logged unaddressable names in. */
const MAX_UNADDRESSABLE_TOLD = 256;
/** How long a client told of the server's close (closeTold) may keep its side open before it is cut. */
const CLOSE_LINGER_MS = 1_000;
/**
 * How long the server waits after CCC's 200 for the client's close_notify before sending its own.
 * lftp fails only when ours reaches it in the same read as the 200: sent this much later, ours
 * arrives that much later on any link (both take the same path), so the wait need not cover a
 * round trip. A client that sends none (curl's passive CCC, its default) waits this long for ours.
 */
const CCC_PEER_FIRST_MS = 250;
/**
 * How long after its grace period a session told to shut down may still take: its transfer's
 * storage abandoned if it ignores the abort, the 421 and close_notify sent, the client's close
 * awaited (CLOSE_LINGER_MS), with room to spare. server.close() cuts what is left then.
 */
export const SHUTDOWN_MARGIN_MS = ABANDON_AFTER_MS + CLOSE_LINGER_MS + 1_000;
export const MAX_UNSENT_BYTES = 64 * 1024;

/**
 * One client: read → frame → parse → policy → handler → reply. Commands run one at a time in
 * order; during a transfer only ABOR and STAT run at once, the rest wait their turn. QUIT is
 * answered in its turn too, and nothing the client sends after it is read.
 */
export class ControlConnection {
  readonly session: Session;
  readonly closed: Promise<void>;
  private readonly channel: ControlChannel;
  private readonly reader = new LineReader({ maxLineBytes: 4096 });
  private readonly queue: Item[] = [];
  private readonly logger: Logger;
  /** The session's logger without the per-address limit (storage warnings are limited server-wide). */
  private readonly unlimited: Logger;
  private running = false;
  private handshaking = false;
  private quitting = false;
  /** A server shutdown waits for the running transfer (its grace). */
  private finishing = false;
  /** Ending the session for its account's removal: 421, the transfer aborted, closed. */
  private revoking: Promise<void> | undefined;
  /** Told that the server closes (closeTold): said once, whichever path comes first; nothing is written after it. */
  private told = false;
  /** QUIT is read (and waits its turn): what the client sends after it is not read. */
  private lastRead = false;
  /** The TLS session the client's close_notify ended while a CCC or REIN was pending (onTlsEnd). */
  private endedTls: tls.TLSSocket | undefined;
  /** The session has ended (onClose ran): its socket may outlive it briefly (closeTold). */
  private over = false;
  /** The reason the session's work is aborted with when it ends (see disconnect-reasons.ts). */
  private endedBy = CONNECTION_CLOSED;
  private readonly transfers: Transfers;
  /** An entry a listing (or a quota scan, which then does not count it) left out for its path's length. */
  private readonly tooLong = (dir: VPath, name: string): void =>
    this.logger.debug({ dir, name }, 'listing left out an entry whose path is longer than 4096 characters');
  /** Directories whose unaddressable names this session logged: once each (a client may list one 1000s of times). */
  private readonly unaddressableTold = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** From accept (or REIN) to the first successful login; unset once logged in. */
  private loginTimer: NodeJS.Timeout | undefined;
  /** Runs while unsent output is above MAX_UNSENT_BYTES; closes the connection if it stays there. */
  private stallTimer: NodeJS.Timeout | undefined;
  /** The command loop waiting for unsent output to fall below the bound. */
  private wakeOnRoom: (() => void) | undefined;
  /** The session's command budget (limits.maxCommandRate): each command charged, over it delayed. */
  private readonly pacing = new CommandPacing({
    rate: () => {
      const { maxCommandRate, maxCommandBurst } = this.rt.options.limits;
      return { perSecond: maxCommandRate, burst: maxCommandBurst };
    },
    delayed: (rate) =>
      this.logger.info(
        { maxCommandRate: rate.perSecond, maxCommandBurst: rate.burst },
        'commands delayed: the client sends them faster than maxCommandRate',
      ),
    flooded: (rate) => this.flooded(rate),
  });
  /** The session was scored for a command flood (its log line is written once). */
  private floodTold = false;
  private readonly disconnect = new AbortController();
  /** Aborts on destroy(): a transfer's storage still running is not waited for at all. */
  private readonly destroyed = new AbortController();
  /** How this session counts among its user's sessions (while logged in). */
  private account: { readonly username: string; readonly handle: LoggedInSession } | undefined;
  /** TLS up, not logged in yet. */
  private arrival: Arrival | undefined;
  /** The first bytes, held until they cannot be a PROXY header (see ClientOrigin.screen). */
  private screened: Buffer | undefined;
  /** Why a PROXY header in the first bytes is refused (logged then); none from a trusted proxy. */
  private readonly proxyHeaderWhy: string | undefined;
  /** Its first bytes were a PROXY header, from a peer that is not a trusted proxy. */
  private proxyHeaderRefused = false;
  /** The trusted proxy the client came through (logged with the connect line). */
  private readonly via: string | undefined;
  /** A trusted proxy without a client address (ClientOrigin.proxySelf): no PORT/EPRT. */
  private readonly fromProxyItself: boolean;
  /** The code of the socket error that ended the connection, if any (ETIMEDOUT: keepalive). */
  private lostTo: string | undefined;
  private ended!: () => void;
  /** For the admin listener's session list (report()). */
  private readonly connectedAt = Date.now();
  private readonly remotePort: number | undefined;
  /** The listener's port this client connected to (named in the wrong-mode log lines). */
  private readonly localPort: number | undefined;
  /** When the command loop last went back to waiting for the client. */
  private idleSince = Date.now();
  /** The queued command running now. */
  private current: Item | undefined;
  /** The time limits of the commands running now (see boundCommand); cleared when the session ends. */
  private readonly bounds = new Set<() => void>();
  /**
   * A command the time limit gave up on: the session ended for the client, but its storage call
   * (an S3 rename halfway through its copies) is left to finish, not aborted; the session's signal
   * aborts once it settles.
   */
  private outlived: Promise<unknown> | undefined;
  /** Storage calls the client's leaving does not cut (outlivingClient): the session ends after them. */
  private readonly leftToFinish = new Set<Promise<void>>();
  /**
   * Steps a long command made: a storage call's (StorageContext.progress) and a long reply's batches
   * the client took (a STAT of a large directory). The time limit sees it move.
   */
  private steps = 0;
  /** The multi-line reply being sent piece by piece (longReply), until the command's reply ends it. */
  private openReply: { readonly code: ReplyCode } | undefined;
  /** Ends the time limit of the transfer command running now: its 150 does (see boundCommand). */
  private untilTransferStarts: (() => void) | undefined;

  constructor(
    socket: net.Socket,
    implicit: boolean,
    private readonly rt: ServerRuntime,
    /** Told of each login and logout (maxUnauthenticatedPerAddress). */
    private readonly unauthenticated: UnauthenticatedCount,
    /** The socket's peer, as read when it was accepted (one whose peer was unreadable is never served). */
    remote: string,
    /** Who the client is behind a trusted proxy (PROXY protocol); else the socket's peer. */
    origin?: ClientOrigin,
  ) {
    socket.setNoDelay(true);
    // Load balancers and NAT drop idle flows after minutes (Azure 4, AWS NAT ~6): keepalive probes
    // keep a control connection that waits through a long transfer known to them (and find dead
    // peers). Node (libuv) then probes every 1 s, 10 times, and cannot be told otherwise: a control
    // path silent ~10 s at a probe fails the socket with ETIMEDOUT (onClose: a transfer goes on).
    socket.setKeepAlive(true, rt.options.timeouts.keepaliveMs);
    const local = socket.localAddress ?? '';
    this.session = new Session(implicit, origin?.address ?? remote, local, origin?.arrivedOn ?? local);
    // No origin: the listener reads no PROXY header at all, so one arriving is refused as well.
    this.proxyHeaderWhy = !origin
      ? UNCONFIGURED_PROXY_HEADER
      : origin.screen
        ? UNTRUSTED_PROXY_HEADER
        : undefined;
    if (this.proxyHeaderWhy && !implicit) this.screened = Buffer.alloc(0);
    // Implicit: the first bytes go to TLS; a copy of them is screened on the side, first.
    if (this.proxyHeaderWhy && implicit) this.screenTlsStart(socket);
    // The proxy as the other lines name addresses: IPv4-mapped (a dual-stack listener's view) as IPv4.
    if (origin?.proxied) this.via = normalizeAddress(remote);
    this.fromProxyItself = origin?.proxySelf === true;
    this.remotePort = origin?.proxied ? origin.port : socket.remotePort;
    this.localPort = socket.localPort;
    // Every line of the session names the client (the one a PROXY header named): fail2ban and
    // grep find an address's failed logins and transfers without joining them to its connect line.
    this.unlimited = rt.logger.child({
      session: this.session.id,
      ...remoteFields(rt.defender, this.address),
    });
    this.logger = rt.warnings.forAddress(this.unlimited, this.session.remoteAddress);
    this.transfers = new Transfers({
      preliminary: (r) => {
        // Its storage answered and the transfer starts: the data connection's timeouts govern it now.
        this.untilTransferStarts?.();
        this.write(r);
      },
      logger: this.logger,
      user: () => this.session.username,
      finished: (t) => this.transferFinished(t),
      errorReplied: (err, command) => this.errorReplied(err, command),
    });
    rt.metrics.sessions.inc({ mode: this.mode });
    this.channel = new ControlChannel(socket);
    this.closed = new Promise((resolve) => (this.ended = resolve));
    this.channel.on('data', (d: Buffer) => this.onData(d));
    this.channel.on('error', (err: NodeJS.ErrnoException) => {
      this.lostTo = err.code;
      this.logger.debug({ err: err.message }, 'control connection error');
    });
    this.channel.once('close', () => this.onClose());
    this.channel.on('tls-end', () => this.onTlsEnd());
    this.channel.on('drain', () => this.onOutputDrained());
  }

  /** What the session is and does now (the admin listener's GET /sessions). */
  report(now = Date.now()): SessionReport {
    const { session } = this;
    const login = session.login;
    return {
      id: session.id,
      user: session.username ?? null,
      anonymous: login.phase === 'in' && login.principal.anonymous === true,
      address: this.address,
      port: this.remotePort ?? null,
      mode: this.mode,
      tls: this.channel.established,
      since: new Date(this.connectedAt).toISOString(),
      idleSeconds: this.running ? 0 : Math.max(0, Math.floor((now - this.idleSince) / 1000)),
      doing: this.running ? this.activity(now) : null,
      worker: null,
    };
  }

  /** The running command (its path taken against the cwd) and its transfer's progress, if any. */
  private activity(now: number): SessionActivity | null {
    const item = this.current;
    const t = this.transfers.active;
    if (!t && item?.kind !== 'command') return null;
    const command = item?.kind === 'command' ? item.command : undefined;
    let path = t?.path ?? null;
    const named = command && this.namedPath(command);
    if (path === null && named !== undefined) {
      try {
        path = resolveVPath(this.session.cwd, named);
      } catch {
        // A name its handler refuses: no path shown.
      }
    }
    return {
      command: t?.command ?? command?.verb ?? '',
      path,
      bytes: t?.bytes ?? null,
      bytesPerSecond: t?.pace.bytesPerSecond(now) ?? null,
      sinceProgressSeconds: t?.pace.sinceProgressSeconds(now) ?? null,
      direction: t?.direction ?? null,
    };
  }

  /**
   * The path a command names, as its permission is checked (spec.target: `LIST -la /pub` names
   * `/pub`); a command with a path but no target, its path.
   */
  private namedPath<V extends Verb>(command: CommandOf<V>): string | undefined {
    const spec: CommandSpec<V> | undefined = this.rt.commands[command.verb];
    if (spec?.target) return spec.target(command);
    return 'path' in command && typeof command.path === 'string' ? command.path : undefined;
  }

  private get mode(): SessionMode {
    return this.session.implicit ? 'implicit' : 'explicit';
  }

  async start(): Promise<void> {
    this.logger.info({ mode: this.mode, ...(this.via ? { via: this.via } : {}) }, 'connect');
    this.startLoginTimer();
    if (this.session.implicit && !(await this.beginImplicitTls())) return;
    this.write(reply(Code.ServiceReady, this.rt.options.greeting));
    this.idleSince = Date.now();
    this.touch(); // from the greeting: the implicit TLS handshake has its own timeout
  }

  /** Server shutdown: say so, then close once the current transfer (if any) is done. */
  async shutdown(graceMs: number, notice = 'Server shutting down.'): Promise<void> {
    this.quitting = true;
    this.endedBy = SERVER_SHUTDOWN;
    if (this.handshaking) {
      // Nothing can be said to a client still in its TLS handshake (implicit: not even a greeting yet).
      this.destroy();
      return this.closed;
    }
    const t = this.transfers.active;
    if (t) {
      const timer = setTimeout(() => t.abort(GRACE_OVER), graceMs);
      this.finishing = true;
      await t.done; // bounded once aborted: a transfer's storage that ignores it is abandoned
      this.finishing = false;
      clearTimeout(timer);
    }
    // The account went meanwhile: revoke() aborted the transfer, said so and closed.
    if (this.revoking) await this.revoking;
    else await this.closeTold(reply(Code.ServiceNotAvailable, notice));
    return this.closed;
  }

  destroy(): void {
    this.channel.destroy();
    this.transfers.abort(DESTROYED); // also one that outlives its lost connection (onClose)
    this.destroyed.abort();
  }

  /** An error became a reply: counted, and a storage that is down or refusing is logged. */
  private errorReplied(err: unknown, command: string): void {
    this.rt.metrics.errorReplied(err);
    warnStorageError(this.rt.warnings, this.unlimited, err, { user: this.account?.username, command });
  }

  /** A transfer's work (its storage) did not stop when aborted: it goes on unheard, the session does not wait. */
  private abandoned(command: string): void {
    this.logger.warn(
      { command, user: this.account?.username, afterMs: ABANDON_AFTER_MS },
      'storage did not stop when the transfer was aborted: abandoned (its later result is ignored)',
    );
  }

  /** The account changed: the next commands use its new permissions, limits and folders. */
  private follow(p: Principal): void {
    try {
      this.session.principalChanged(p, this.rt.options.storageFor);
      this.logger.info({ user: p.username }, 'session follows the changed account');
    } catch (err) {
      // The storage for the new settings cannot be made: the session must not go on with the old.
      this.logger.warn({ user: p.username, err }, 'changed account unusable');
      void this.revoke();
    }
  }

  /**
   * The administrator ends the session (`ferry kick`, POST /sessions/ID/close; `by` says who asked):
   * as an account's removal does, with its own 421. False when it was ending already.
   */
  kick(by: string): boolean {
    return this.revoke({ by });
  }

  private revoke(cause: { gone?: AccountGone; by?: string } = {}): boolean {
    // A server shutting down lets transfers finish: not one of an account removed meanwhile.
    if ((this.quitting && !this.finishing) || this.revoking || this.channel.isClosed) return false;
    this.revoking = this.revoked(cause);
    return true;
  }

  /**
   * The user's account was removed or disabled, or the administrator (`by`) ended the session: 421,
   * the transfer (if any) aborted first (its 426; an upload is not committed), closed.
   */
  private async revoked({ gone, by }: { gone?: AccountGone; by?: string }): Promise<void> {
    this.quitting = true;
    const user = this.account?.username;
    const why =
      by !== undefined
        ? 'closed by the administrator'
        : gone
          ? `account ${gone}`
          : 'account removed or disabled';
    if (by === undefined) this.logger.warn({ user }, `session ended: ${why}`);
    else this.logger.info({ user, by }, 'session closed by the administrator');
    const t = this.transfers.active;
    if (t) {
      t.abort({ reason: why, byServer: true });
      await t.done;
    }
    const said =
      by === undefined ? 'Account no longer available, closing.' : 'Session closed by the administrator.';
    await this.closeTold(reply(Code.ServiceNotAvailable, said));
  }

  /** Logging in over TLS: a sibling's data connection may wait for this login (Logins.later). */
  private arrive(family: SessionFamily): void {
    this.arrival?.settle();
    this.arrival = this.rt.logins.arrive(this.address, family);
  }

  /** Left (closed, REIN) without logging in over the TLS it started. */
  private leaveArrival(): void {
    this.arrival?.settle();
    this.arrival = undefined;
  }

  private leaveAccount(): void {
    if (this.account) this.rt.logins.leave(this.account.username, this.account.handle);
    this.account = undefined;
  }

  private async beginImplicitTls(): Promise<boolean> {
    // MS-FTPS 3.2.5.1: AUTH TLS, PBSZ 0 and PROT P are implied and get no replies.
    if (!(await this.startTls())) return false;
    this.session.pbszAccepted();
    this.session.protect('P');
    return true;
  }

  private async startTls(): Promise<boolean> {
    const family = new SessionFamily(this.rt.certificates.sessionContext());
    this.handshaking = true;
    const before = this.channel.tlsBytesIn;
    try {
      await this.channel.startTls({
        role: 'server',
        secureContext: family.context,
        sessionCache: family.controlHub(),
        handshakeTimeoutMs: this.rt.options.timeouts.handshakeMs,
      });
      this.session.tlsStarted(family);
      if (!this.account) this.arrive(family);
      const t = this.channel.tlsSocket;
      this.rt.metrics.tlsHandshake('control', t?.getProtocol() ?? null, t?.isSessionReused() ?? false);
      this.logger.info({ protocol: t?.getProtocol(), cipher: t?.getCipher().name }, 'tls established');
      return true;
    } catch (err) {
      if (this.proxyHeaderRefused) return false; // said so already; not a TLS failure to score
      const alert = certificateAlert(err);
      const wrongMode = this.session.implicit ? this.wrongModeOnImplicit(err) : undefined;
      const policy = policyRefusal(err, this.channel.handshakeBytes, this.rt.options.minVersion);
      if (wrongMode) this.logger.warn({}, wrongMode);
      else if (policy) this.logger.warn(policy.fields, policy.msg);
      else
        this.logger.warn(
          { err: (err as Error).message, ...(alert && { alert }) },
          'control connection TLS handshake failed',
        );
      this.rt.metrics.tlsHandshake('control', null, false);
      // Not scored: a probe that connects and leaves (a load balancer's health check) sent nothing;
      // a client that refused our certificate (not given our CA), or offered only what tlsMinVersion
      // or tlsCiphers refuse (an old client: a NATed office's would be banned), is a user, not an attacker.
      if (this.channel.tlsBytesIn > before && !alert && !policy)
        this.rt.defender.record(this.address, 'tls-failure');
      this.channel.destroy();
      return false;
    } finally {
      this.handshaking = false;
    }
  }

  /**
   * A failed implicit handshake that looks like a client of the explicit port: it sent an FTP
   * command in clear, or nothing before the timeout (waiting for a greeting). Else undefined.
   */
  private wrongModeOnImplicit(err: unknown): string | undefined {
    const sent = this.channel.handshakeBytes;
    const ports = this.rt.ports();
    if (startsLikeCommand(sent)) return plainOnImplicitPort(this.localPort, ports);
    if (sent.length === 0 && err instanceof FerryError && err.code === 'ERR_TIMEOUT') {
      return silentOnImplicitPort(this.localPort, ports, this.rt.options.timeouts.handshakeMs / 1000);
    }
    return undefined;
  }

  /** Implicit FTPS from a peer that may not send one: a PROXY header instead of a ClientHello ends it. */
  private screenTlsStart(socket: net.Socket): void {
    let seen = Buffer.alloc(0);
    const onFirst = (d: Buffer): void => {
      seen = Buffer.concat([seen, d]);
      const verdict = proxySignature(seen);
      if (verdict === 'maybe') return;
      socket.off('data', onFirst);
      if (verdict === 'yes') this.refuseProxyHeader();
    };
    socket.on('data', onFirst);
  }

  private refuseProxyHeader(): void {
    this.proxyHeaderRefused = true;
    this.logger.warn({}, `connection refused: ${this.proxyHeaderWhy ?? UNTRUSTED_PROXY_HEADER}`);
    this.channel.destroy();
  }

  private onData(data: Buffer): void {
    // Told it is closed, or it said QUIT: what the client still sends is not read.
    if (this.over || this.lastRead) return;
    let chunk = data;
    if (this.screened) {
      // Not a trusted proxy: its first bytes may not be a PROXY header (which would claim another
      // client's address). Bytes that may still become one wait until they cannot.
      const seen = Buffer.concat([this.screened, chunk]);
      const verdict = proxySignature(seen);
      if (verdict === 'yes') return this.refuseProxyHeader();
      this.screened = verdict === 'maybe' ? seen : undefined;
      if (this.screened) return;
      chunk = seen;
    }
    // A ClientHello where a command line starts: an implicit-FTPS client on the explicit port. It
    // waits for a ServerHello that never comes; closed now, with a line that tells the admin why.
    if (!this.channel.secure && this.reader.bufferedBytes === 0 && startsTlsHandshake(chunk)) {
      this.logger.warn({}, tlsOnExplicitPort(this.localPort, this.rt.ports()));
      void this.closeTold();
      return;
    }
    this.touch();
    this.reader.push(chunk);
    this.takeLines();
    void this.drain();
  }

  /**
   * Moves complete lines from the reader to the queue while it has room; the rest waits there. None
   * once the session is over: a long command ending after it (an upload cut) would take the lines
   * read ahead, each charged and waited for (command budget) for a client long gone.
   */
  private takeLines(): void {
    while (this.queue.length < MAX_QUEUED && !this.lastRead && !this.over && !this.pacing.holding) {
      const r = this.reader.next();
      if (!r) break;
      const item: Item =
        r.kind === 'line'
          ? parseCommand(r.line)
          : r.kind === 'not-utf8'
            ? this.legacyLine(r.bytes, r.line)
            : { kind: 'too-long' };
      const spec = item.kind === 'command' ? this.rt.commands[item.command.verb] : undefined;
      if (spec?.concurrency === 'out-of-band' && this.transfers.active) {
        // Never queued: the lines behind it wait in the reader (reading stops while it is held).
        const pipelined = this.queue.length >= PIPELINED || this.reader.hasLines(PIPELINED);
        const waitMs = this.pacing.charge(pipelined);
        if (waitMs > 0) this.pacing.hold(waitMs, () => this.outOfBandAfterWait(item));
        else void this.execute(item);
        continue;
      }
      if (spec?.concurrency === 'last') {
        // Its reply comes after those to the commands before it; none comes after it.
        this.lastRead = true;
        this.reader.clear();
        spec.onRead?.(this.context());
      }
      this.queue.push(item);
    }
    this.updateFlow();
  }

  /**
   * A line that is not UTF-8: read in the legacy encoding when the server has one (each byte one
   * character, so no two names read as one), else refused (notUtf8).
   */
  private legacyLine(bytes: Buffer, shown: string): Item {
    const text = this.rt.options.legacyCharset?.decode(bytes);
    return text === undefined ? notUtf8(shown) : { ...parseCommand(text), legacy: true };
  }

  private get outputBlocked(): boolean {
    return this.channel.unsentBytes > MAX_UNSENT_BYTES;
  }

  /** Reads only while the queue has room and the client takes its replies. */
  private updateFlow(): void {
    if (this.channel.isClosed || this.over) return;
    const blocked = this.outputBlocked;
    if (blocked || this.queue.length >= MAX_QUEUED || this.pacing.holding) this.channel.pause();
    else this.channel.resume();
    if (!blocked) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    } else {
      this.stallTimer ??= setTimeout(() => this.onStalled(), this.rt.options.timeouts.stalledOutputMs);
    }
  }

  private onOutputDrained(): void {
    if (this.outputBlocked) return;
    const wake = this.wakeOnRoom;
    this.wakeOnRoom = undefined;
    wake?.();
    this.updateFlow();
  }

  private onStalled(): void {
    this.logger.warn({ unsent: this.channel.unsentBytes }, 'closing: the client has not read its replies');
    this.channel.destroy();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let sinceTurn = 0;
    try {
      while (!this.quitting) {
        while (this.outputBlocked && !this.channel.isClosed) {
          await new Promise<void>((resolve) => (this.wakeOnRoom = resolve));
        }
        if (this.queue.length === 0) break;
        // Charged while it is still queued: a client that keeps many waiting pipelines.
        const waitMs = this.pacing.charge(this.queue.length >= PIPELINED);
        if (waitMs > 0) await this.pacing.wait(waitMs);
        const item = this.queue.shift();
        if (!item) break;
        this.current = item;
        try {
          await this.execute(item);
        } finally {
          this.current = undefined;
        }
        const ended = this.endedTls;
        this.endedTls = undefined;
        if (ended && ended === this.channel.tlsSocket) this.onTlsEnd(); // its CCC or REIN refused
        this.takeLines();
        if (++sinceTurn >= COMMANDS_PER_TURN && this.queue.length > 0) {
          sinceTurn = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.running = false;
      this.idleSince = Date.now();
      // Waiting for the client again: a long command or transfer must not eat its idle period.
      this.touch();
    }
  }

  /**
   * Held back by the command budget for a whole flood period again: said once, scored each time;
   * closed (421) once that bans its address.
   */
  private flooded(rate: CommandRate): void {
    if (!this.floodTold) {
      this.floodTold = true;
      this.logger.warn(
        {
          maxCommandRate: rate.perSecond,
          maxCommandBurst: rate.burst,
          seconds: floodPeriodMs(rate) / 1000,
        },
        'command flood: the client pipelines commands over maxCommandRate without reading its replies: scored',
      );
    }
    this.rt.defender.record(this.address, 'command-flood');
    if (!this.rt.defender.banned(this.address)) return;
    this.logger.info({}, 'command flood: the address is banned now, closing');
    void this.closeTold(reply(Code.ServiceNotAvailable, BANNED_TEXT));
  }

  /**
   * An out-of-band command held back by the budget, at its time: run now if its transfer still
   * runs, else queued (nothing after it was read), as a command read then would be.
   */
  private outOfBandAfterWait(item: Item): void {
    if (this.transfers.active) void this.execute(item);
    else this.queue.push(item);
    this.takeLines();
    void this.drain();
  }

  private async execute(item: Item): Promise<void> {
    if (this.channel.isClosed || this.told) return;
    if (item.kind === 'too-long') return this.write(reply(Code.SyntaxError, 'Command line too long.'));
    if (item.kind === 'invalid') return this.write(reply(Code.SyntaxError, item.reason));
    if (item.kind === 'unknown') return this.write(reply(Code.SyntaxError, `Unknown command ${item.verb}.`));
    const { verb, arg } = item.kind === 'command' ? item.command : item;
    const spec = this.rt.commands[verb];
    if (!spec) return this.write(reply(Code.NotImplemented, `${verb} not implemented.`));
    if (item.legacy) this.session.sentLegacyLine(); // this reply on, in its set
    const started = Date.now();
    // One-shot state (REST, RNFR) is for the next command only: taken here, whatever comes next.
    const ctx = this.context(
      this.transfers.active ? undefined : this.session.takeOneShot(spec.preparesTransfer),
    );
    // Its storage work before the 150 is not its data connection's idle or handshake time.
    const prepared = spec.data ? this.session.preparingTransfer() : undefined;
    const settled = this.outcome(item, spec, ctx);
    // The handler waits at its first await now: this is in place before any 150 it writes.
    const unbound = this.boundCommand(verb, settled);
    if (spec.data) this.untilTransferStarts = unbound;
    const outcome = await settled;
    prepared?.();
    unbound();
    if (spec.data) this.untilTransferStarts = undefined;
    const r = 'after' in outcome ? outcome.reply : outcome;
    this.rt.metrics.command(verb, r.code, (Date.now() - started) / 1000);
    this.logChange(verb, ctx.change, r);
    if (this.outlived === settled) {
      // The client had its 421; whether the call it was left to finish succeeded is for the log.
      this.logger.info(
        { command: verb, reply: r.code, ms: Date.now() - started },
        'command left to finish after its time limit has finished',
      );
      this.transfers.replied()?.(); // a HASH's local transfer is done too; nothing is written
      return;
    }
    this.logger.debug(
      { command: redactCommand(verb, arg), reply: r.code, ms: Date.now() - started },
      'command',
    );
    // The reply to QUIT or REIN and the close_notify after it leave together. Not CCC's: see after().
    if ('after' in outcome && outcome.after !== 'start-tls' && outcome.after !== 'stop-tls') {
      this.channel.coalesce();
    }
    this.openReply = undefined; // its end line is this reply
    // A transfer counts as done once its reply is out, so ABOR's 226 follows the transfer's 426;
    // its data connection ends once that reply has left.
    this.write(r, this.transfers.replied());
    if (this.loginTimer && this.session.loggedIn) this.loggedIn();
    if ('after' in outcome) await this.after(outcome.after);
  }

  /**
   * The audit line of a change to the tree (DELE, RNTO, MKD, RMD, SITE CHMOD, MFMT): one at info,
   * done or not, never rate-limited. Refusals for a permission are logged before the handler runs.
   */
  private logChange(verb: string, change: TreeChange, r: Reply): void {
    const { action, ...paths } = change;
    if (!action) return;
    const failed = r.code >= 300;
    this.unlimited.info(
      {
        user: this.session.username,
        command: verb,
        ...paths,
        reply: r.code,
        ...(failed && { reason: r.lines[r.lines.length - 1] }),
      },
      action,
    );
  }

  /** The command's reply, with a code RFC 959 allows it (a refusal's 550 is STOR's 553). */
  private async outcome(
    item: Extract<Item, { kind: 'command' | 'bad-argument' }>,
    spec: AnyCommandSpec,
    ctx: CommandContext,
  ): Promise<Outcome> {
    const o = await this.unfitted(item, spec, ctx);
    return 'after' in o ? o : fitReply(spec.verb, o);
  }

  /** The command's reply: its handler's, or the one for the error it threw. */
  private async unfitted(
    item: Extract<Item, { kind: 'command' | 'bad-argument' }>,
    spec: AnyCommandSpec,
    ctx: CommandContext,
  ): Promise<Outcome> {
    try {
      return item.kind === 'command'
        ? await this.run(item.command, ctx)
        : // Arguments that did not parse: the access rules still come first, but not the data
          // protection a transfer needs (RETR without a path is 501, not 534: nothing would go).
          ((await refusal(
            { verb: spec.verb, access: spec.access },
            typeof spec.permission === 'string' ? spec.permission : undefined,
            undefined,
            ctx,
          )) ?? reply(item.code, item.reason));
    } catch (err) {
      const verb = item.kind === 'command' ? item.command.verb : item.verb;
      this.errorReplied(err, verb);
      // Refused before any data (already over): said at info, as the transfer line says a crossing.
      if (err instanceof QuotaError)
        this.logger.info({ command: verb, user: this.account?.username, reason: err.message }, 'refused');
      const { reply: r, unknown } = replyForError(err);
      if (unknown) this.logger.error({ err, command: verb }, 'command failed');
      return r;
    }
  }

  /**
   * Ends the session if the command outlives timeouts.commandMs (see options.ts) without its local
   * transfer or its storage call reporting progress. Its call is not aborted. A transfer is bounded
   * until its 150 (its file opened, its listing begun, its upload's target checked): from then on
   * the data connection's own timeouts govern, and a slow transfer that moves is never cut.
   */
  private boundCommand(verb: string, settled: Promise<Outcome>): () => void {
    const ms = this.rt.options.timeouts.commandMs;
    const unbound = boundCommand(
      ms,
      () => (this.transfers.active?.bytes ?? 0) + this.steps,
      () => {
        this.bounds.delete(unbound);
        if (this.channel.isClosed) return;
        this.logger.warn({ command: verb, seconds: ms / 1000 }, 'command did not finish in time: closing');
        this.outlived = settled;
        this.quitting = true;
        // Its data connection or passive port goes now, not when the client closes its side: a
        // call that answers late must find none, so that nothing is sent or stored after the 421.
        this.session.setData(undefined);
        // A long reply cut halfway (STAT of a directory) ends first, as RFC 959 has it: then the
        // client can read the 421.
        const open = this.openReply;
        this.openReply = undefined;
        const said = `${verb} did not finish in ${ms / 1000} s; closing control connection.`;
        const cut = open ? [reply(open.code, 'End of status: cut by the command time limit.')] : [];
        void this.closeTold(...cut, reply(Code.ServiceNotAvailable, said));
      },
    );
    this.bounds.add(unbound);
    return () => {
      this.bounds.delete(unbound);
      unbound();
    };
  }

  /** Policy, then the handler of the command's own verb. */
  private async run<V extends Verb>(command: CommandOf<V>, ctx: CommandContext): Promise<Outcome> {
    const spec: CommandSpec<V> | undefined = this.rt.commands[command.verb];
    if (!spec) return reply(Code.NotImplemented, `${command.verb} not implemented.`);
    const need = typeof spec.permission === 'function' ? spec.permission(command) : spec.permission;
    const target = spec.target?.(command) || undefined;
    const denied = await refusal(spec, need, target, ctx);
    if (denied) return denied;
    return spec.handle(command, need ? guarded(ctx, command.verb, need) : ctx);
  }

  private async after(action: After): Promise<void> {
    switch (action) {
      case 'close':
        await this.closeTold(); // its reply is written
        return;
      case 'start-tls':
        // Anything the client sent in clear after AUTH must not be taken as coming from inside TLS.
        this.reader.clear();
        this.queue.length = 0;
        this.lastRead = false; // a QUIT among what was dropped
        await this.startTls();
        return;
      case 'stop-tls':
        // lftp answers the 200 with its close_notify and waits for ours, but takes one that comes
        // with the 200 for a lost connection; curl's passive CCC sends none and waits for ours.
        await this.channel.stopTls({ peerFirstMs: CCC_PEER_FIRST_MS });
        return;
      case 'reinitialize': {
        // MS-FTPS 3.2.5.3: back to the state right after the TCP connection was made.
        this.leaveAccount();
        this.leaveArrival();
        this.session.reset();
        this.startLoginTimer();
        this.queue.length = 0;
        this.reader.clear();
        this.lastRead = false; // a QUIT among what was dropped
        // Implicit: the client's ClientHello may follow its close_notify at once; keep it.
        await this.channel.stopTls({ thenTls: this.session.implicit });
        if (this.session.implicit && (await this.beginImplicitTls())) {
          this.write(reply(Code.ServiceReady, this.rt.options.greeting));
        }
        return;
      }
    }
  }

  /**
   * Every close the server decides ends here: `last` (the replies that say so, unless written
   * already), TLS close_notify, then FIN, so the client can tell our close from a cut connection.
   * The session ends once they are sent, not when the client closes its side (ftplib keeps its
   * socket after an error reply): it counts against no limit from then on. Its socket is destroyed
   * if the client has not closed it within CLOSE_LINGER_MS of this call (one that does not read
   * what is sent included).
   */
  private async closeTold(...last: Reply[]): Promise<void> {
    this.quitting = true;
    if (this.told || this.channel.isClosed) return; // said already, or the client closed first
    if (last.length > 0) {
      this.channel.coalesce(); // the replies and the close_notify leave together
      this.writeText(last.map(formatReply).join(''));
    }
    // Nothing is written after the closing reply: a reply racing it (a PASS that ends as the login
    // timeout fires) would follow the close_notify, in clear.
    this.told = true;
    const cut = setTimeout(() => this.channel.destroy(), CLOSE_LINGER_MS);
    this.channel.once('close', () => clearTimeout(cut));
    await this.channel.stopTls();
    this.channel.close();
    this.onClose(); // ran already if the socket closed meanwhile
  }

  /** `sent`: run once the reply has been handed to TCP (at once when nothing is written). */
  private write(r: Reply, sent?: () => void): void {
    this.writeText(formatReply(r), sent);
  }

  private writeText(text: string, sent?: () => void): void {
    if (this.told) return sent?.(); // closed by the server (closeTold): nothing follows its last reply
    const charset = replyCharset(this.session, this.rt.options);
    this.channel.write(charset ? charset.encode(text) : text, sent);
    if (this.outputBlocked) this.updateFlow();
  }

  /** Waits until unsent output is below the bound again; rejects once the connection is closed. */
  private async room(): Promise<void> {
    while (this.outputBlocked && !this.channel.isClosed) {
      await new Promise<void>((resolve) => {
        const before = this.wakeOnRoom;
        this.wakeOnRoom = () => (before?.(), resolve());
      });
    }
    if (this.channel.isClosed) throw new FerryError('ERR_CLOSED', 'The control connection closed.');
  }

  /**
   * Restarts the idle period (one timer per connection): on every chunk from the client and
   * whenever the command loop goes back to waiting for one (refresh() re-arms a fired timer too).
   */
  private touch(): void {
    if (this.channel.isClosed || this.over) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.onIdle(), this.rt.options.timeouts.idleMs);
  }

  /**
   * The client's close_notify, outside CCC and REIN: it has left (TLS 1.3 lets it send nothing more;
   * RFC 5246 7.2.1 asks for our close_notify at once). The session ends now, as at a lost control
   * connection (a transfer is aborted), with our close_notify and FIN; no reply, it reads none.
   */
  private onTlsEnd(): void {
    if (this.told || this.over) return;
    // A client may send its close_notify right after CCC or REIN, before their reply: their own
    // stop-tls answers it. Refused, they leave that TLS session live: the client has left then.
    if ([this.current, ...this.queue].some(endsTls)) {
      this.endedTls = this.channel.tlsSocket;
      return;
    }
    this.logger.info({}, 'client ended TLS (close_notify): closing');
    void this.closeTold();
  }

  private onIdle(): void {
    // Idle means waiting for the client: not during a command (a transfer, a TLS handshake, slow
    // storage), which re-arms the timer once it is done (drain), nor once closing.
    if (this.running || this.quitting) return;
    this.logger.info({}, 'idle timeout');
    void this.closeTold(reply(Code.ServiceNotAvailable, 'Idle timeout, closing control connection.'));
  }

  private get address(): string {
    return normalizeAddress(this.session.remoteAddress);
  }

  private startLoginTimer(): void {
    clearTimeout(this.loginTimer);
    this.loginTimer = setTimeout(() => this.onLoginTimeout(), this.rt.options.timeouts.loginMs);
  }

  private loggedIn(): void {
    clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
    this.unauthenticated.loggedIn();
  }

  /** Not logged in in time: closed whatever the client sends meanwhile (NOOP keeps only the idle timer away). */
  private onLoginTimeout(): void {
    this.loginTimer = undefined;
    if (this.session.loggedIn || this.channel.isClosed) return;
    this.logger.info({}, 'login timeout');
    if (this.handshaking) return this.channel.destroy();
    void this.closeTold(reply(Code.ServiceNotAvailable, 'Login timeout, closing control connection.'));
  }

  /** Metrics, then the transfer log (xferlog) if the embedder keeps one. */
  private transferFinished(t: TransferOutcome): void {
    this.rt.metrics.transfer(t.direction, t.bytes, t.result);
    const log = this.rt.options.onTransfer;
    if (!log || t.direction === 'listing') return;
    const login = this.session.login;
    // The embedder's code: its failure (a throw, an async hook's rejection) is logged, and the
    // transfer's reply stands (a 451 after a committed APPE would have the client send it again).
    const failed = (err: unknown): void =>
      this.logger.warn({ command: t.command, err: errorText(err) }, 'onTransfer hook failed');
    try {
      const done: unknown = log({
        ...t,
        at: new Date(),
        user: this.session.username ?? '',
        ...(login.phase === 'in' && login.principal.anonymous && { anonymous: true }),
        remoteAddress: this.address,
        type: this.session.type,
        sessionId: this.session.id,
      });
      if (isThenable(done)) done.then(undefined, failed);
    } catch (err) {
      failed(err);
    }
  }

  private onClose(): void {
    // Once: a session told it is closed ends before its socket does (closeTold).
    if (this.over) return;
    this.over = true;
    clearTimeout(this.loginTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.stallTimer);
    this.pacing.stop();
    this.wakeOnRoom?.();
    this.queue.length = 0;
    const t = this.transfers.active;
    // Keepalive found the control path silent (a NAT or link down for a while), while the data
    // connection, which has its own idle timeout, may still flow: as with kernel defaults (other
    // servers), the transfer runs to its end (an upload is committed), then the session ends.
    if (t && this.lostTo === 'ETIMEDOUT') {
      this.logger.warn(
        {},
        'control connection lost (keepalive timeout) during a transfer: the transfer goes on',
      );
      void t.done.then(() => this.end());
    } else this.end();
  }

  private end(): void {
    this.rt.metrics.sessions.dec({ mode: this.mode });
    for (const unbound of this.bounds) unbound();
    this.bounds.clear();
    const release = (): void => {
      this.disconnect.abort(this.endedBy);
      this.session.setData(undefined); // also a passive port a PASV left to finish got after the end
    };
    // A call the time limit gave up on may still be working (a rename halfway): let it finish (its
    // data endpoint went when the limit fired).
    if (this.outlived) void this.outlived.then(release);
    else release();
    this.leaveAccount();
    this.leaveArrival();
    this.transfers.abort(CONTROL_CLOSED);
    this.rt.lingering.endSession(this);
    this.logger.info({}, 'disconnect');
    // The server's stop waits for those (closed), and its destroy() aborts them (destroyed).
    if (this.leftToFinish.size > 0) void Promise.all(this.leftToFinish).then(() => this.ended());
    else this.ended();
  }

  /**
   * CCC took the control connection back to clear text: the session keeps its TLS family (REIN
   * drops it) while the channel is plain. Only CCC's stop-tls does that, and the close_notify of a
   * closing session (told), which clears nothing.
   */
  private get cleared(): boolean {
    return this.session.tls !== undefined && !this.channel.secure && !this.told;
  }

  private context(oneShot: OneShot = { restOffset: 0, renameFrom: undefined }): CommandContext {
    const { session, rt, transfers } = this;
    return {
      session,
      oneShot,
      change: {},
      secure: this.channel.secure,
      cleared: this.cleared,
      disconnected: this.disconnect.signal,
      outlivingClient: (work) => {
        // Its own signal: the server's destroy aborts it, and so does its end (what it left running).
        const own = new AbortController();
        const stop = (): void => own.abort(this.destroyed.signal.reason);
        if (this.destroyed.signal.aborted) stop();
        else this.destroyed.signal.addEventListener('abort', stop, { once: true });
        const running = work(own.signal);
        const settled = running.then(
          () => undefined,
          () => undefined,
        );
        this.leftToFinish.add(settled);
        void settled.then(() => {
          this.destroyed.signal.removeEventListener('abort', stop);
          own.abort();
          this.leftToFinish.delete(settled);
        });
        return running;
      },
      options: rt.options,
      specs: rt.specs,
      logger: this.logger,
      metrics: rt.metrics,
      cutUploads: rt.cutUploads,
      homeChecks: rt.homeChecks,
      hashTurns: rt.hashTurns,
      heldEntries: rt.heldEntries,
      files: () => this.files(),
      data: {
        passive: async () => {
          session.setData(undefined);
          const owner = {
            address: this.address,
            group: rt.defender.key(this.address),
            user: session.username,
          };
          const policy = this.dataPolicy();
          // The range is full (one NAT's clients can fill it): the PASV waits, and the operator
          // must see why (rate-limited per address, as the 425 below).
          const waiting = (busy: PortsBusy): void =>
            this.logger.warn(
              { user: owner.user, ...busy, waitS: policy.connectTimeoutMs / 1000 },
              'passive port: every port of the range is taken, waiting for one',
            );
          const endpoint = await PassiveEndpoint.create(
            rt.passivePorts,
            policy,
            owner,
            this.disconnect.signal,
            waiting,
          ).catch((err: unknown) => {
            if (err instanceof PassiveLimitError) {
              this.logger.warn({ user: owner.user, over: err.over }, 'passive port refused: limit');
              // A user's pool may be full of other addresses' ports: scoring this one would let
              // anyone get an anonymous user's every client banned.
              if (err.over === 'address') rt.defender.record(owner.address, 'limit-refused');
            } else if (err instanceof PassiveBusyError) {
              this.logger.warn(
                { user: owner.user, ...err.busy, waitedS: policy.connectTimeoutMs / 1000 },
                'passive port refused (425): no port of the range could be bound',
              );
            }
            throw err;
          });
          session.setData(endpoint);
          return endpoint.port;
        },
        active: (host, port) => {
          // Behind a proxy our end of the control connection faces the proxy, not the client.
          const ends = { peer: session.remoteAddress, local: this.via ? undefined : session.localAddress };
          session.setData(new ActiveEndpoint(activeRoute(host, ends), port, this.dataPolicy()));
        },
        fromProxyItself: this.fromProxyItself,
      },
      transfer: {
        run: (command, opening, work, path, offset) =>
          transfers.run(
            session.takeData(),
            command,
            opening,
            (sock, t) => this.bounded(command, t, work(sock, t)),
            path,
            offset,
          ),
        refused: () => transfers.refused(session.takeData()),
        runLocal: (command, work) => transfers.runLocal(command, (t) => this.bounded(command, t, work(t))),
        get active() {
          return transfers.active;
        },
      },
      longReply: (code, first) => {
        this.writeText(formatOpening(code, first));
        const open = { code };
        this.openReply = open;
        return {
          lines: async (lines) => {
            // Ended by the time limit: nothing may follow its end line and the 421.
            if (this.openReply !== open) throw new FerryError('ERR_CLOSED', 'The reply was ended.');
            this.writeText(formatMiddle(lines));
            await this.room();
            this.steps++; // the client takes the listing: it moves
          },
        };
      },
      clientCertificate: () => {
        const t = this.channel.tlsSocket;
        return t && peerCertificate(t, rt.certificates.clientCas);
      },
      logOut: () => this.unauthenticated.loggedOut(),
      enterSession: async (principal) => {
        this.leaveAccount();
        const handle: LoggedInSession = {
          address: this.address,
          family: () => session.tls,
          revoke: (gone) => void this.revoke(gone === undefined ? {} : { gone }),
          update: (p) => this.follow(p),
        };
        if (!(await rt.logins.enter(principal, handle, () => this.channel.isClosed))) return false;
        this.account = { username: principal.username, handle };
        this.arrival?.settle(principal.username);
        this.arrival = undefined;
        return true;
      },
    };
  }

  /** Storage that ignores ABOR, QUIT or shutdown must not hold the session for ever. */
  private bounded<T>(command: string, t: TransferProgress, work: Promise<T>): Promise<T> {
    return abandonOnAbort(work, {
      signal: t.signal,
      now: this.destroyed.signal,
      abandoned: () => this.abandoned(command),
    });
  }

  /** True the first time `dir` is told of in this session (bounded: the oldest forgotten). */
  private firstUnaddressable(dir: VPath): boolean {
    if (this.unaddressableTold.has(dir)) return false;
    if (this.unaddressableTold.size >= MAX_UNADDRESSABLE_TOLD) {
      const oldest = this.unaddressableTold.values().next().value;
      if (oldest !== undefined) this.unaddressableTold.delete(oldest);
    }
    this.unaddressableTold.add(dir);
    return true;
  }

  private files(): UserFiles {
    const { session } = this;
    const login = session.login;
    if (login.phase !== 'in') throw new FerryError('ERR_PERMISSION_DENIED', 'Not logged in.');
    const context = (signal?: AbortSignal): StorageContext => ({
      sessionId: session.id,
      signal: signal ?? this.disconnect.signal,
      progress: () => void this.steps++,
      tooLong: this.tooLong,
      unaddressable: (dir, count) => {
        if (!this.firstUnaddressable(dir)) return;
        this.logger.info(
          { user: login.principal.username, dir, count },
          'listing left out names no client can address (not valid UTF-8, or a control character or backslash)',
        );
      },
      tempLeft: (file, temp, errno) =>
        this.logger.warn(
          { user: login.principal.username, file, temp, error: errno },
          "a failed upload's temp file could not be removed: it is removed when an upload there ends, or at the next start",
        ),
      unreadable: (dir, reason) =>
        this.logger.warn(
          { user: login.principal.username, dir, reason },
          'quota scan: a directory it cannot read is not counted',
        ),
    });
    return {
      principal: login.principal,
      storage: login.storage,
      context,
      resolve: (path) =>
        resolveClientPath(session.cwd, path, (p) => entryExists(() => login.storage.stat(p, context()))),
    };
  }

  private dataPolicy(): DataPolicy {
    const { session, rt } = this;
    return {
      peerAddress: session.remoteAddress,
      localAddress: session.localAddress,
      protect: () => session.dataProtection(),
      // After CCC, binding the data connection to the TLS session protects little: the commands go
      // in clear, for anyone on the path to read and forge. And curl's default (passive) CCC never
      // answers our close_notify, so OpenSSL drops its session and its data connections do full
      // handshakes. Accepted then, as ProFTPD does; they must still come from the control peer.
      requireSessionReuse: () => rt.options.requireSessionReuse && !this.cleared,
      siblings:
        rt.options.sessionReuseScope === 'user'
          ? {
              now: () => rt.logins.families(this.account?.username, this.address),
              later: (id) =>
                rt.logins.later(this.account?.username, this.address, id, () =>
                  this.logger.debug(
                    {},
                    'data connection waits for the login of the sibling whose session it offers',
                  ),
                ),
            }
          : undefined,
      connectTimeoutMs: rt.options.timeouts.dataConnectMs,
      handshakeTimeoutMs: rt.options.timeouts.handshakeMs,
      idleTimeoutMs: rt.options.timeouts.dataIdleMs,
      logger: this.logger,
      linger: (raw) => rt.lingering.keep(this, raw),
      // Counted too: a client doing quick transfers without closing held 5 s worth of them.
      ended: (stream, owner) =>
        rt.lingering.keep(this, owner, {
          ms: LINGER_MS,
          leave: () => endDropping(stream),
        }),
      observer: {
        tls: (version, resumed) => rt.metrics.tlsHandshake('data', version, resumed),
        refused: (reason) => rt.metrics.dataRefused.inc({ reason }),
      },
    };
  }
}
