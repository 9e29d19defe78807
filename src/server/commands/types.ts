import type { Permission } from '../../auth/permissions.js';
import type { Logger } from '../../logger.js';
import type { CommandOf, Verb } from '../../protocol/command.js';
import type { Reply } from '../../protocol/reply.js';
import type { StorageBackend, StorageContext, VPath } from '../../storage/types.js';
import type { CertificateStore } from '../../tls/certificates.js';
import type { DataPolicy } from '../data-connection.js';
import type { ResolvedOptions } from '../options.js';
import type { PassivePorts } from '../passive-ports.js';
import type { OneShot, Session } from '../session.js';

/** What the control connection does after writing a handler's reply. */
export type After = 'close' | 'start-tls' | 'stop-tls' | 'reinitialize';
export type Outcome = Reply | { readonly reply: Reply; readonly after: After };

/** A transfer in flight: ABOR aborts it, STAT reports it. */
export interface TransferState {
  readonly command: string;
  readonly signal: AbortSignal;
  bytes: number;
}

export interface CommandContext {
  readonly session: Session;
  /** What REST / RNFR left for this command (the dispatcher took it from the session). */
  readonly oneShot: OneShot;
  readonly options: ResolvedOptions;
  readonly certificates: CertificateStore;
  readonly passivePorts: PassivePorts;
  readonly logger: Logger;
  /** The control connection is inside TLS right now. */
  readonly secure: boolean;
  /** Writes a preliminary (1xx) reply at once. */
  preliminary(r: Reply): void;
  /** The logged-in user's storage (policy guarantees a login before handlers that use it). */
  storage(): StorageBackend;
  storageContext(signal?: AbortSignal): StorageContext;
  /** A client path → VPath relative to the cwd; throws StorageError('name-not-allowed'). */
  resolve(arg: string): VPath;
  dataPolicy(): DataPolicy;
  /** Runs `work` as this connection's transfer (out-of-band ABOR/STAT/QUIT apply to it). */
  transfer(command: string, work: (t: TransferState) => Promise<Reply>): Promise<Reply>;
  /** The transfer in flight, if any. */
  readonly activeTransfer: (TransferState & { abort(): void; readonly done: Promise<void> }) | undefined;
  /** Registered commands, for FEAT and HELP. */
  readonly specs: readonly AnyCommandSpec[];
}

export interface CommandSpec<V extends Verb = Verb> {
  readonly verb: V;
  /** 'anyone' works before login; 'login' is USER/PASS/ACCT (TLS-required rule); 'logged-in' needs a login. */
  readonly access: 'anyone' | 'login' | 'logged-in';
  /** 'out-of-band' runs at once even while a transfer is in flight (ABOR, STAT, QUIT). */
  readonly concurrency: 'serial' | 'out-of-band';
  /** What the user must be allowed to do (checked by policy before the handler runs). */
  readonly permission?: Permission | ((cmd: CommandOf<V>) => Permission | undefined);
  /** Only sets up the next transfer (data connection, type): a pending REST survives it. */
  readonly preparesTransfer?: boolean;
  /** Uses a data connection: the data-protection policy applies. */
  readonly data?: boolean;
  /** FEAT line(s) this command contributes, given the options and the session (implicit or not). */
  readonly feat?: (o: ResolvedOptions, session: Session) => string | readonly string[] | undefined;
  readonly help: string;
  handle(cmd: CommandOf<V>, ctx: CommandContext): Promise<Outcome>;
}

/** A spec of some verb (the registry's element type). */
export type AnyCommandSpec = { [V in Verb]: CommandSpec<V> }[Verb];

/** Declares a spec with its handler typed by its verb. */
export function command<V extends Verb>(spec: CommandSpec<V>): CommandSpec<V> {
  return spec;
}
