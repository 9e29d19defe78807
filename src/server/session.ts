import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/types.js';
import { DEFAULT_MLST_FACTS, type MlstFact } from '../protocol/listing.js';
import type { StorageBackend, VPath } from '../storage/types.js';
import type { SessionFamily } from '../tls/session-cache.js';
import { ROOT } from '../storage/virtual-path.js';
import type { DataEndpoint } from './data-connection.js';

export type LoginState =
  | { readonly phase: 'none' }
  | { readonly phase: 'user'; readonly username: string }
  | { readonly phase: 'in'; readonly principal: Principal; readonly storage: StorageBackend };

/** State a command leaves for the next one only. */
export interface OneShot {
  readonly restOffset: number;
  readonly renameFrom: VPath | undefined;
}

const NO_ONE_SHOT: OneShot = { restOffset: 0, renameFrom: undefined };

/** Per-connection state. REIN puts everything back to `reset()`'s values. */
export class Session {
  readonly id = randomUUID();
  login: LoginState = { phase: 'none' };
  /** PBSZ accepted (implied on implicit FTPS). */
  pbsz = false;
  prot: 'C' | 'P' = 'C';
  /** The TLS sessions of the control connection's TLS session; data connections must resume one. */
  tls: SessionFamily | undefined;
  cwd: VPath = ROOT;
  type: 'A' | 'I' = 'A';
  epsvAll = false;
  mlstFacts: ReadonlySet<MlstFact> = DEFAULT_MLST_FACTS;
  data: DataEndpoint | undefined;
  loginFailures = 0;
  /** Set by REST / RNFR for the next command only (RFC 959 4.1.3); see takeOneShot(). */
  private oneShot: OneShot = NO_ONE_SHOT;

  constructor(
    readonly implicit: boolean,
    readonly remoteAddress: string,
    readonly localAddress: string,
  ) {}

  get loggedIn(): boolean {
    return this.login.phase === 'in';
  }

  /** REST: the offset of the next transfer command. */
  setRestart(offset: number): void {
    this.oneShot = { ...this.oneShot, restOffset: offset };
  }

  /** RNFR: the source of an RNTO that must come next. */
  setRenameFrom(p: VPath): void {
    this.oneShot = { ...this.oneShot, renameFrom: p };
  }

  /**
   * The dispatcher takes the one-shot state before every command, so it lives exactly one command:
   * the command that consumes it gets it, any other one (or a failure) drops it. A command that
   * only prepares the transfer (PASV, EPSV, PORT, EPRT, TYPE) lets a pending REST through, as
   * clients such as curl send REST before setting up the data connection.
   */
  takeOneShot(preparesTransfer = false): OneShot {
    const o = this.oneShot;
    this.oneShot = preparesTransfer ? { ...NO_ONE_SHOT, restOffset: o.restOffset } : NO_ONE_SHOT;
    return o;
  }

  /** Drops the data endpoint (closing its sockets). */
  setData(endpoint: DataEndpoint | undefined): void {
    this.data?.close();
    this.data = endpoint;
  }

  /** REIN: back to the state right after connect. */
  reset(): void {
    this.login = { phase: 'none' };
    this.pbsz = false;
    this.prot = 'C';
    this.tls = undefined;
    this.cwd = ROOT;
    this.type = 'A';
    this.oneShot = NO_ONE_SHOT;
    this.epsvAll = false;
    this.mlstFacts = DEFAULT_MLST_FACTS;
    this.setData(undefined);
  }
}
