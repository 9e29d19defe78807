import type { HashAlgorithm } from '../../protocol/hash.js';
import type { Permission } from '../../auth/permissions.js';
import type { ClientCertificate, Principal } from '../../auth/types.js';
import type { Logger } from '../../logger.js';
import type { CommandOf, Verb } from '../../protocol/command.js';
import type { Reply } from '../../protocol/reply.js';
import type { ReplyCode } from '../../protocol/codes.js';
import type { StorageBackend, StorageContext, VPath } from '../../storage/types.js';
import type { DataSocket } from '../data-connection.js';
import type { CutUploads } from '../cut-uploads.js';
import type { HomeChecks } from '../home-checks.js';
import type { HashTurns } from '../hash-turns.js';
import type { HeldEntries } from './listing-order.js';
import type { ServerMetrics } from '../metrics.js';
import type { ResolvedOptions } from '../options.js';
import type { Can } from '../capabilities.js';
import type { OneShot, Session } from '../session.js';
import type { ActiveTransfer, TransferProgress } from '../transfers.js';

/** What the control connection does after writing a handler's reply. */
export type After = 'close' | 'start-tls' | 'stop-tls' | 'reinitialize';
export type Outcome = Reply | { readonly reply: Reply; readonly after: After };

/** The logged-in user's files: storage, paths relative to the cwd, and the context calls need. */
export interface UserFiles {
  readonly principal: Principal;
  readonly storage: StorageBackend;
  /** Aborts on disconnect, or on `signal` (a transfer's). */
  context(signal?: AbortSignal): StorageContext;
  /**
   * A client path → VPath relative to the cwd, `~` the home (home-path.ts); rejects with
   * StorageError('name-not-allowed').
   */
  resolve(path: string): Promise<VPath>;
}

/** Data-connection endpoints for PASV/EPSV (listening) and PORT/EPRT (connecting at transfer time). */
export interface DataEndpoints {
  /** Opens a passive endpoint and makes it the session's (closing any previous one); returns its port. */
  passive(): Promise<number>;
  /** Makes an active endpoint to host:port the session's. */
  active(host: string, port: number): void;
  /**
   * The session's address is a trusted proxy's own, not a client's (no PROXY source): PORT/EPRT to
   * it would let any client behind the proxy reach the proxy host's ports.
   */
  readonly fromProxyItself: boolean;
}

export interface Transfer {
  /** Runs a transfer over the endpoint PASV/EPSV/PORT/EPRT prepared (see Transfers.run). */
  run(
    command: string,
    opening: string,
    work: (sock: DataSocket, t: TransferProgress) => Promise<void>,
    /** The file transferred, as the client names it (for the transfer log). */
    path?: string,
    /** Where in the file it begins (REST), for the transfer log. */
    offset?: number,
  ): Promise<Reply>;
  /**
   * The transfer command is refused before its 150: its data connection is ended once the refusal
   * is out, not before it (see Transfers.refused).
   */
  refused(): void;
  /** Runs long work without a data connection that ABOR may stop (see Transfers.runLocal). */
  runLocal(command: string, work: (t: TransferProgress) => Promise<Reply>): Promise<Reply>;
  /** The transfer in flight, if any (ABOR, STAT and QUIT run during one). */
  readonly active: ActiveTransfer | undefined;
}

/** What a handler gets; session state changes only through the Session's methods. */
/**
 * A change to the tree a command is making, noted by its handler as it resolves the path: the
 * dispatcher logs it with the reply (the audit trail), whether it succeeded or failed.
 */
export interface TreeChange {
  action?: 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'chmod' | 'set-time';
  /** The path changed (a rename's new name): resolved, or as the client gave it until then. */
  path?: string;
  /** A rename's old name. */
  from?: string;
  /** SITE CHMOD's mode, octal. */
  mode?: string;
  /** MFMT's time, ISO 8601. */
  modified?: string;
}

export interface CommandContext {
  readonly session: Session;
  /** What this command changes in the tree, for its audit line (see TreeChange). */
  readonly change: TreeChange;
  /** What REST / RNFR left for this command (the dispatcher took it from the session). */
  readonly oneShot: OneShot;
  /** The control connection is inside TLS right now. */
  readonly secure: boolean;
  /** CCC took the control connection back to clear text; the security exchange stands (RFC 2228). */
  readonly cleared: boolean;
  /** Aborts when the control connection closes (work done for it alone can stop). */
  readonly disconnected: AbortSignal;
  /**
   * Runs `work` so that the client leaving does not cut it (a rename halfway through its copies):
   * its signal aborts only when the server stops (destroy, after the stop's grace), and the session
   * ends (`closed`) only once it has settled.
   */
  outlivingClient<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
  readonly options: ResolvedOptions;
  /** Registered commands, for FEAT and HELP. */
  readonly specs: readonly AnyCommandSpec[];
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** File versions left by cut uploads, which a resume must not continue (cut-uploads.ts). */
  readonly cutUploads: CutUploads;
  /** Logins' home checks in flight, per home (home-checks.ts). */
  readonly homeChecks: HomeChecks;
  /** HASHes running and waiting their turn (hash-turns.ts). */
  readonly hashTurns: HashTurns;
  /** The entries this process's listings hold to sort them (listing-order.ts). */
  readonly heldEntries: HeldEntries;
  /** The logged-in user's files (policy guarantees a login before handlers that use them). */
  files(): UserFiles;
  readonly data: DataEndpoints;
  readonly transfer: Transfer;
  /**
   * REIN: counts the session as not logged in again; false when its address already has
   * maxUnauthenticatedPerAddress connections not logged in (the session must then end).
   */
  logOut(): Promise<boolean>;
  /** Counts this session as one of its user's; false when the user's maxSessions are all in use. */
  enterSession(principal: Principal): Promise<boolean>;
  /** The client certificate of the control connection's current TLS session, checked now. */
  clientCertificate(): ClientCertificate | undefined;
  /**
   * A multi-line reply too long to build whole (STAT of a directory): its first line is written now,
   * the middle ones as they come, each call waiting while the client has not read what was sent
   * (rejecting with ERR_CLOSED once the connection is gone). The handler returns the last line.
   */
  longReply(code: ReplyCode, first: string): { lines(lines: readonly string[]): Promise<void> };
}

/** What FEAT lines depend on: the options, the kind of session, its storage and permissions. */
export interface FeatContext {
  readonly options: ResolvedOptions;
  readonly implicit: boolean;
  readonly can: Can;
  /** The session's HASH algorithm (FEAT marks it with `*`). */
  readonly hashAlgorithm: HashAlgorithm;
  /** HASH is not switched off for the logged-in user (`hash: false`). */
  readonly hash: boolean;
}

export interface CommandSpec<V extends Verb = Verb> {
  readonly verb: V;
  /** 'anyone' works before login; 'login' is USER/PASS/ACCT (TLS-required rule); 'logged-in' needs a login. */
  readonly access: 'anyone' | 'login' | 'logged-in';
  /**
   * 'serial' waits its turn. 'out-of-band' runs at once even while a transfer is in flight (ABOR,
   * STAT). 'last' (QUIT) is answered in its turn, after every command sent before it, and nothing
   * sent after it is read; its `onRead` runs as soon as it is read.
   */
  readonly concurrency: 'serial' | 'out-of-band' | 'last';
  /** A 'last' command's effect at once, when it is read (QUIT drops a HASH still waiting its turn). */
  readonly onRead?: (ctx: CommandContext) => void;
  /** What the user must be allowed to do (checked by policy before the handler runs). */
  readonly permission?: Permission | ((cmd: CommandOf<V>) => Permission | undefined);
  /** The client path the permission is checked at (relative to the cwd); default: the cwd. */
  readonly target?: (cmd: CommandOf<V>) => string | undefined;
  /** Only sets up the next transfer (data connection, type): a pending REST survives it. */
  readonly preparesTransfer?: boolean;
  /** Uses a data connection: the data-protection policy applies. */
  readonly data?: boolean;
  /** FEAT line(s) this command contributes, given what this session can do. */
  readonly feat?: (c: FeatContext) => string | readonly string[] | undefined;
  /**
   * Whether the server's policy lets this session use the command at all (CCC without allowCcc,
   * or on implicit FTPS, is refused): HELP leaves out what is not offered, as FEAT does. Default: yes.
   */
  readonly offered?: (c: Pick<FeatContext, 'options' | 'implicit'>) => boolean;
  readonly help: string;
  handle(cmd: CommandOf<V>, ctx: CommandContext): Promise<Outcome>;
}

/** A spec of some verb (the registry's element type). */
export type AnyCommandSpec = { [V in Verb]: CommandSpec<V> }[Verb];

/** Declares a spec with its handler typed by its verb. */
export function command<V extends Verb>(spec: CommandSpec<V>): CommandSpec<V> {
  return spec;
}
