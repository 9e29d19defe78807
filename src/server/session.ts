import { randomUUID } from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Principal } from '../auth/types.js';
import { DEFAULT_MLST_FACTS, type MlstFact } from '../protocol/listing.js';
import type { StorageBackend, VPath } from '../storage/types.js';
import { ROOT } from '../storage/virtual-path.js';
import type { DataEndpoint } from './data-connection.js';

export type LoginState =
  | { readonly phase: 'none' }
  | { readonly phase: 'user'; readonly username: string }
  | { readonly phase: 'in'; readonly principal: Principal; readonly storage: StorageBackend };

/** Per-connection state. REIN puts everything back to `reset()`'s values. */
export class Session {
  readonly id = randomUUID();
  login: LoginState = { phase: 'none' };
  /** PBSZ accepted (implied on implicit FTPS). */
  pbsz = false;
  prot: 'C' | 'P' = 'C';
  /** This control connection's TLS context and session store; data connections must resume its sessions. */
  tls: { readonly context: tls.SecureContext; readonly sessions: net.Server } | undefined;
  cwd: VPath = ROOT;
  type: 'A' | 'I' = 'A';
  restOffset = 0;
  renameFrom: VPath | undefined;
  epsvAll = false;
  mlstFacts: ReadonlySet<MlstFact> = DEFAULT_MLST_FACTS;
  data: DataEndpoint | undefined;
  loginFailures = 0;

  constructor(
    readonly implicit: boolean,
    readonly remoteAddress: string,
    readonly localAddress: string,
  ) {}

  get loggedIn(): boolean {
    return this.login.phase === 'in';
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
    this.restOffset = 0;
    this.renameFrom = undefined;
    this.epsvAll = false;
    this.mlstFacts = DEFAULT_MLST_FACTS;
    this.setData(undefined);
  }
}
