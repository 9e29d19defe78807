import { randomUUID } from 'node:crypto';
import { FerryError } from '../errors.js';
import { DEFAULT_HASH, type HashAlgorithm } from '../protocol/hash.js';
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

/** How many CLNT names one session logs: a client repeating CLNT must not flood the log. */
const CLIENT_NAMES_LOGGED = 3;
/** Longest CLNT name logged, in characters (a line may hold 4 KB). */
const CLIENT_NAME_CHARS = 100;

const NO_ONE_SHOT: OneShot = { restOffset: 0, renameFrom: undefined };
const LOGGED_OUT: LoginState = { phase: 'none' };

/**
 * Per-connection state. It changes only through these methods, each named for the protocol event
 * that causes it; REIN puts everything back to `reset()`'s values.
 */
export class Session {
  readonly id = randomUUID();
  #login: LoginState = LOGGED_OUT;
  #loginFailures = 0;
  #pbsz = false;
  #prot: 'C' | 'P' = 'C';
  /**
   * The TLS sessions of the control connection's TLS session; data connections must resume one.
   * Kept after CCC: the security exchange (AUTH) stays in force (RFC 2228); REIN drops it.
   */
  #tls: SessionFamily | undefined;
  #cwd: VPath = ROOT;
  #type: 'A' | 'I' = 'A';
  #epsvAll = false;
  #mlstFacts: ReadonlySet<MlstFact> = DEFAULT_MLST_FACTS;
  #hashAlgorithm: HashAlgorithm = DEFAULT_HASH;
  #data: DataEndpoint | undefined;
  /** Set by REST / RNFR for the next command only (RFC 959 4.1.3); see takeOneShot(). */
  #oneShot: OneShot = NO_ONE_SHOT;
  #clientName: string | undefined;
  #clientNamesLogged = 0;
  /** Sent a line read in the legacy encoding (legacyEncoding), and not OPTS UTF8 ON: answered in it. */
  #legacy = false;
  /** Sent OPTS UTF8 ON: answered in UTF-8 whatever it sends. */
  #utf8Asked = false;

  constructor(
    readonly implicit: boolean,
    /** The client's address (behind a trusted proxy: the one its PROXY header names). */
    readonly remoteAddress: string,
    /** This server's end of the control connection: passive ports listen there. */
    readonly localAddress: string,
    /** The address the client connected to, as it sees it (a proxy's): PASV announces it by default. */
    readonly arrivedOn: string = localAddress,
  ) {}

  get login(): LoginState {
    return this.#login;
  }

  get loggedIn(): boolean {
    return this.#login.phase === 'in';
  }

  /** The logged-in user's name; undefined before the login. */
  get username(): string | undefined {
    return this.#login.phase === 'in' ? this.#login.principal.username : undefined;
  }

  get loginFailures(): number {
    return this.#loginFailures;
  }

  /** PBSZ accepted (implied on implicit FTPS). */
  get pbsz(): boolean {
    return this.#pbsz;
  }

  get prot(): 'C' | 'P' {
    return this.#prot;
  }

  get tls(): SessionFamily | undefined {
    return this.#tls;
  }

  /**
   * The TLS family data connections must use now; undefined under PROT C. PROT P without TLS (PROT
   * needs TLS, REIN drops both: not reached) throws rather than let a data connection go clear.
   */
  dataProtection(): SessionFamily | undefined {
    if (this.#prot === 'C') return undefined;
    if (this.#tls) return this.#tls;
    throw new FerryError('ERR_TLS', 'Data protection is private (PROT P), but this session has no TLS.');
  }

  get cwd(): VPath {
    return this.#cwd;
  }

  get type(): 'A' | 'I' {
    return this.#type;
  }

  get epsvAll(): boolean {
    return this.#epsvAll;
  }

  /** Its replies and listings go in the legacy encoding (see legacy-text.ts). */
  get legacy(): boolean {
    return this.#legacy;
  }

  /** A command line that was not UTF-8 was read in the legacy encoding. */
  sentLegacyLine(): void {
    if (!this.#utf8Asked) this.#legacy = true;
  }

  /** OPTS UTF8 ON: the client reads UTF-8, whatever its lines were. */
  askedUtf8(): void {
    this.#utf8Asked = true;
    this.#legacy = false;
  }

  get mlstFacts(): ReadonlySet<MlstFact> {
    return this.#mlstFacts;
  }

  /** HASH's algorithm (OPTS HASH selects it). */
  get hashAlgorithm(): HashAlgorithm {
    return this.#hashAlgorithm;
  }

  selectHashAlgorithm(a: HashAlgorithm): void {
    this.#hashAlgorithm = a;
  }

  /** USER: a name waits for its PASS. */
  userGiven(username: string): void {
    this.#login = { phase: 'user', username };
  }

  loginSucceeded(principal: Principal, storage: StorageBackend): void {
    this.#login = { phase: 'in', principal, storage };
    this.#loginFailures = 0;
  }

  /**
   * The account changed while logged in: new permissions and limits, and the storage made for them
   * (`storageFor`); the home stays the one the session started in (a new home needs a new login).
   */
  principalChanged(principal: Principal, storageFor: (p: Principal) => StorageBackend): void {
    const login = this.#login;
    if (login.phase !== 'in' || login.principal.username !== principal.username) return;
    const p = { ...principal, home: login.principal.home };
    this.#login = { phase: 'in', principal: p, storage: storageFor(p) };
  }

  /** A failed PASS: back to before USER; returns the failures so far on this connection. */
  loginFailed(): number {
    this.#login = LOGGED_OUT;
    return ++this.#loginFailures;
  }

  /** The control connection is inside TLS now (AUTH, implicit connect). */
  tlsStarted(t: SessionFamily): void {
    this.#tls = t;
  }

  /** PBSZ, or implied: by implicit FTPS and by AUTH TLS-P. */
  pbszAccepted(): void {
    this.#pbsz = true;
  }

  /** PROT (policy already checked). */
  protect(level: 'C' | 'P'): void {
    this.#prot = level;
  }

  changeDir(p: VPath): void {
    this.#cwd = p;
  }

  setType(type: 'A' | 'I'): void {
    this.#type = type;
  }

  /** EPSV ALL: from now on only EPSV may set up data connections (RFC 2428). */
  enterEpsvAll(): void {
    this.#epsvAll = true;
  }

  selectMlstFacts(facts: ReadonlySet<MlstFact>): void {
    this.#mlstFacts = facts;
  }

  /** PASV/EPSV/PORT/EPRT: the endpoint of the next transfer (any previous one is closed). */
  setData(endpoint: DataEndpoint | undefined): void {
    this.#data?.close();
    this.#data = endpoint;
  }

  /** A transfer command arrived (see DataEndpoint.preparing); the function returned: it is over. */
  preparingTransfer(): () => void {
    return this.#data?.preparing?.() ?? (() => {});
  }

  /** A transfer takes the endpoint: one transfer per PASV/PORT. */
  takeData(): DataEndpoint | undefined {
    const d = this.#data;
    this.#data = undefined;
    return d;
  }

  /** REST: the offset of the next transfer command. */
  setRestart(offset: number): void {
    this.#oneShot = { ...this.#oneShot, restOffset: offset };
  }

  /** RNFR: the source of an RNTO that must come next. */
  setRenameFrom(p: VPath): void {
    this.#oneShot = { ...this.#oneShot, renameFrom: p };
  }

  /**
   * The dispatcher takes the one-shot state before every command, so it lives exactly one command:
   * the command that consumes it gets it, any other one (or a failure) drops it. A command that
   * only prepares the transfer (PASV, EPSV, PORT, EPRT, TYPE) lets a pending REST through, as
   * clients such as curl send REST before setting up the data connection.
   */
  takeOneShot(preparesTransfer = false): OneShot {
    const o = this.#oneShot;
    this.#oneShot = preparesTransfer ? { ...NO_ONE_SHOT, restOffset: o.restOffset } : NO_ONE_SHOT;
    return o;
  }

  /**
   * CLNT: the name to log, cut to 100 characters; undefined when it is the name logged last, or
   * when this session has logged 3 already (REIN does not start over).
   */
  clientNamed(name: string): string | undefined {
    const chars = [...name];
    const shown = chars.length > CLIENT_NAME_CHARS ? `${chars.slice(0, CLIENT_NAME_CHARS).join('')}…` : name;
    if (shown === this.#clientName || this.#clientNamesLogged >= CLIENT_NAMES_LOGGED) return undefined;
    this.#clientName = shown;
    this.#clientNamesLogged++;
    return shown;
  }

  /** REIN: back to the state right after connect (failed logins and logged CLNT names still count). */
  reset(): void {
    this.#login = LOGGED_OUT;
    this.#pbsz = false;
    this.#prot = 'C';
    this.#tls = undefined;
    this.#cwd = ROOT;
    this.#type = 'A';
    this.#oneShot = NO_ONE_SHOT;
    this.#epsvAll = false;
    this.#mlstFacts = DEFAULT_MLST_FACTS;
    this.#hashAlgorithm = DEFAULT_HASH;
    this.#legacy = false;
    this.#utf8Asked = false;
    this.setData(undefined);
  }
}
