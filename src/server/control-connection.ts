import type net from 'node:net';
import { FerryError, replyForError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Code } from '../protocol/codes.js';
import { parseCommand, redactCommand, type ParsedLine } from '../protocol/command.js';
import { LineReader } from '../protocol/line-reader.js';
import { formatReply, reply, type Reply } from '../protocol/reply.js';
import type { StorageContext } from '../storage/types.js';
import { resolveVPath } from '../storage/virtual-path.js';
import type { CertificateStore } from '../tls/certificates.js';
import { ControlChannel } from '../tls/control-tls.js';
import { SessionFamily } from '../tls/session-cache.js';
import type { After, CommandContext, CommandSpec, Outcome, TransferState } from './commands/types.js';
import type { DataPolicy } from './data-connection.js';
import type { ResolvedOptions } from './options.js';
import type { PassivePorts } from './passive-ports.js';
import { refusal } from './policy.js';
import { Session, type OneShot } from './session.js';

export interface ServerRuntime {
  readonly options: ResolvedOptions;
  readonly certificates: CertificateStore;
  readonly passivePorts: PassivePorts;
  readonly commands: ReadonlyMap<string, CommandSpec>;
  readonly specs: readonly CommandSpec[];
  readonly logger: Logger;
}

type Item = ParsedLine | { readonly kind: 'too-long' };
type ActiveTransfer = TransferState & { abort(): void; readonly done: Promise<void> };

/** Queued commands beyond this pause reading, so a flood cannot grow memory. */
const MAX_QUEUED = 64;

/**
 * One client: read → frame → parse → policy → handler → reply. Commands run one at a time in
 * order; during a transfer only ABOR, STAT and QUIT run at once, the rest wait their turn.
 */
export class ControlConnection {
  readonly session: Session;
  readonly closed: Promise<void>;
  private readonly channel: ControlChannel;
  private readonly reader = new LineReader({ maxLineBytes: 4096 });
  private readonly queue: Item[] = [];
  private readonly logger: Logger;
  private running = false;
  private quitting = false;
  private transferState: ActiveTransfer | undefined;
  private finishTransfer: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly disconnect = new AbortController();

  constructor(
    socket: net.Socket,
    implicit: boolean,
    private readonly rt: ServerRuntime,
  ) {
    socket.setNoDelay(true);
    this.session = new Session(implicit, socket.remoteAddress ?? '', socket.localAddress ?? '');
    this.logger = rt.logger.child({ session: this.session.id });
    this.channel = new ControlChannel(socket);
    this.closed = new Promise((resolve) => this.channel.once('close', resolve));
    this.channel.on('data', (d: Buffer) => this.onData(d));
    this.channel.on('error', (err: Error) =>
      this.logger.debug({ err: err.message }, 'control connection error'),
    );
    this.channel.once('close', () => this.onClose());
  }

  async start(): Promise<void> {
    this.logger.info(
      { remote: this.session.remoteAddress, mode: this.session.implicit ? 'implicit' : 'explicit' },
      'connect',
    );
    this.touch();
    if (this.session.implicit && !(await this.beginImplicitTls())) return;
    this.write(reply(Code.ServiceReady, this.rt.options.greeting));
  }

  /** Server shutdown: say so, then close once the current transfer (if any) is done. */
  async shutdown(graceMs: number): Promise<void> {
    this.quitting = true;
    const t = this.transferState;
    if (t) {
      const timer = setTimeout(() => t.abort(), graceMs);
      await t.done;
      clearTimeout(timer);
    }
    this.write(reply(Code.ServiceNotAvailable, 'Server shutting down.'));
    await this.closeGracefully();
  }

  destroy(): void {
    this.channel.destroy();
  }

  private async beginImplicitTls(): Promise<boolean> {
    // MS-FTPS 3.2.5.1: AUTH TLS, PBSZ 0 and PROT P are implied and get no replies.
    if (!(await this.startTls())) return false;
    this.session.pbsz = true;
    this.session.prot = 'P';
    return true;
  }

  private async startTls(): Promise<boolean> {
    const family = new SessionFamily(this.rt.certificates.sessionContext());
    try {
      await this.channel.startTls({
        role: 'server',
        secureContext: family.context,
        sessionCache: family.controlHub(),
        handshakeTimeoutMs: this.rt.options.timeouts.handshakeMs,
      });
      this.session.tls = family;
      const t = this.channel.tlsSocket;
      this.logger.info({ protocol: t?.getProtocol(), cipher: t?.getCipher().name }, 'tls established');
      return true;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'control connection TLS handshake failed');
      this.channel.destroy();
      return false;
    }
  }

  private onData(chunk: Buffer): void {
    this.touch();
    this.reader.push(chunk);
    for (let r = this.reader.next(); r; r = this.reader.next()) {
      const item: Item = r.kind === 'line' ? parseCommand(r.line) : { kind: 'too-long' };
      if (
        item.kind === 'command' &&
        this.transferState &&
        this.spec(item.verb)?.concurrency === 'out-of-band'
      ) {
        void this.execute(item);
        continue;
      }
      this.queue.push(item);
    }
    if (this.queue.length >= MAX_QUEUED) this.channel.socket.pause();
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let item = this.queue.shift(); item && !this.quitting; item = this.queue.shift()) {
        await this.execute(item);
        if (this.queue.length < MAX_QUEUED) this.channel.socket.resume();
      }
    } finally {
      this.running = false;
    }
  }

  private spec(verb: string): CommandSpec | undefined {
    return this.rt.commands.get(verb);
  }

  private async execute(item: Item): Promise<void> {
    if (this.channel.isClosed) return;
    if (item.kind === 'too-long') return this.write(reply(Code.SyntaxError, 'Command line too long.'));
    if (item.kind === 'invalid') return this.write(reply(Code.SyntaxError, item.reason));
    if (item.kind === 'unknown') return this.write(reply(Code.SyntaxError, `Unknown command ${item.verb}.`));
    const spec = this.spec(item.verb);
    if (!spec) return this.write(reply(Code.NotImplemented, `${item.verb} not implemented.`));
    const started = Date.now();
    // One-shot state (REST, RNFR) is for the next command only: taken here, whatever comes next.
    const ctx = this.context(
      this.transferState ? undefined : this.session.takeOneShot(spec.preparesTransfer),
    );
    let outcome: Outcome;
    try {
      outcome = refusal(spec, item.arg, ctx) ?? (await spec.handle(item.arg, ctx));
    } catch (err) {
      const { reply: r, unknown } = replyForError(err);
      if (unknown) this.logger.error({ err, command: item.verb }, 'command failed');
      outcome = r;
    }
    const r = 'after' in outcome ? outcome.reply : outcome;
    this.logger.info(
      { command: redactCommand(item.verb, item.arg), reply: r.code, ms: Date.now() - started },
      'command',
    );
    this.write(r);
    // A transfer counts as done once its reply is out, so ABOR's 226 follows the transfer's 426.
    const finished = this.finishTransfer;
    this.finishTransfer = undefined;
    finished?.();
    if ('after' in outcome) await this.after(outcome.after);
  }

  private async after(action: After): Promise<void> {
    switch (action) {
      case 'close':
        this.quitting = true;
        await this.closeGracefully();
        return;
      case 'start-tls':
        // Anything the client sent in clear after AUTH must not be taken as coming from inside TLS.
        this.reader.clear();
        this.queue.length = 0;
        await this.startTls();
        return;
      case 'stop-tls':
        await this.channel.stopTls();
        return;
      case 'reinitialize': {
        // MS-FTPS 3.2.5.3: back to the state right after the TCP connection was made.
        this.session.reset();
        this.queue.length = 0;
        this.reader.clear();
        await this.channel.stopTls();
        if (this.session.implicit && (await this.beginImplicitTls())) {
          this.write(reply(Code.ServiceReady, this.rt.options.greeting));
        }
        return;
      }
    }
  }

  /** TLS close_notify first, then FIN: the client can tell our close from a cut connection. */
  private async closeGracefully(): Promise<void> {
    await this.channel.stopTls();
    this.channel.close();
  }

  private write(r: Reply): void {
    this.channel.write(formatReply(r));
  }

  /** Restarts the idle timer (one timer per connection, refreshed on every chunk). */
  private touch(): void {
    if (this.channel.isClosed) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.onIdle(), this.rt.options.timeouts.idleMs);
  }

  private onIdle(): void {
    if (this.transferState) return this.touch(); // a long transfer is not idleness
    this.logger.info({}, 'idle timeout');
    this.write(reply(Code.ServiceNotAvailable, 'Idle timeout, closing control connection.'));
    this.channel.close();
  }

  private onClose(): void {
    clearTimeout(this.idleTimer);
    this.disconnect.abort();
    this.transferState?.abort();
    this.session.setData(undefined);
    this.queue.length = 0;
    this.logger.info({}, 'disconnect');
  }

  private context(oneShot: OneShot = { restOffset: 0, renameFrom: undefined }): CommandContext {
    const { session, rt } = this;
    const storageContext = (signal?: AbortSignal): StorageContext => ({
      sessionId: session.id,
      signal: signal ?? this.disconnect.signal,
    });
    return {
      session,
      oneShot,
      options: rt.options,
      certificates: rt.certificates,
      passivePorts: rt.passivePorts,
      logger: this.logger,
      secure: this.channel.secure,
      specs: rt.specs,
      preliminary: (r) => this.write(r),
      storage: () => {
        if (session.login.phase !== 'in') throw new FerryError('ERR_PERMISSION_DENIED', 'Not logged in.');
        return session.login.storage;
      },
      storageContext,
      resolve: (arg) => resolveVPath(session.cwd, arg),
      dataPolicy: () => this.dataPolicy(),
      transfer: (command, work) => this.runTransfer(command, work),
      activeTransfer: this.transferState,
    };
  }

  private dataPolicy(): DataPolicy {
    const { session, rt } = this;
    return {
      peerAddress: session.remoteAddress,
      localAddress: session.localAddress,
      protect: () => (session.prot === 'P' ? session.tls : undefined),
      requireSessionReuse: rt.options.requireSessionReuse,
      connectTimeoutMs: rt.options.timeouts.dataConnectMs,
      handshakeTimeoutMs: rt.options.timeouts.handshakeMs,
      idleTimeoutMs: rt.options.timeouts.dataIdleMs,
      logger: this.logger,
    };
  }

  private async runTransfer(command: string, work: (t: TransferState) => Promise<Reply>): Promise<Reply> {
    const controller = new AbortController();
    const onDisconnect = (): void => controller.abort();
    this.disconnect.signal.addEventListener('abort', onDisconnect, { once: true });
    let finish!: () => void;
    const state: ActiveTransfer = {
      command,
      signal: controller.signal,
      bytes: 0,
      abort: () => controller.abort(),
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    this.transferState = state;
    const started = Date.now();
    try {
      const r = await work(state);
      this.logger.info(
        { transfer: command, bytes: state.bytes, ms: Date.now() - started, reply: r.code },
        'transfer',
      );
      return r;
    } finally {
      this.disconnect.signal.removeEventListener('abort', onDisconnect);
      this.transferState = undefined;
      this.finishTransfer = finish;
    }
  }
}
