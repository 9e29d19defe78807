import { FerryError, ReplyError } from '../errors.js';
import { Code, type ReplyCode } from '../protocol/codes.js';
import type { ListingProblem } from '../protocol/listing-reply.js';
import { replyLine, type Reply } from '../protocol/reply.js';
import { describeTlsFailure } from './tls-record-faults.js';

/**
 * Client-side errors. Every failure the client raises is a FerryError with a stable `code`; the
 * classes below add what a caller needs to react (the reply, the certificate fingerprint, …).
 * `failureKind()` sorts any error into the few kinds the command line turns into exit codes.
 */

/** The server refused the login (USER/PASS/ACCT); carries the reply. */
export class LoginError extends FerryError {
  readonly replyCode: ReplyCode;
  readonly replyText: string;
  constructor(replyCode: ReplyCode, replyText: string) {
    super('ERR_AUTH', `Login refused: ${replyCode} ${replyText}`);
    this.name = 'LoginError';
    this.replyCode = replyCode;
    this.replyText = replyText;
  }
}

/** Why a server certificate was not accepted. */
export type CertificateProblem =
  /** Not signed by a trusted CA or the name does not match, and no pin or known-hosts entry. */
  | 'untrusted'
  /** A fingerprint was pinned and the server presented another certificate. */
  | 'fingerprint-mismatch'
  /**
   * The known-hosts store has another certificate for this server, or says a CA verified it and this
   * one is not: it changed (or an attack).
   */
  | 'key-changed'
  /** The certificate's key is below OpenSSL security level 2 (RSA under 2048 bits), as curl refuses. */
  | 'weak-key'
  /** A data connection presented a certificate other than the control connection's. */
  | 'data-certificate-mismatch';

export class CertificateError extends FerryError {
  readonly problem: CertificateProblem;
  /** `sha256:AB:CD:…` of the certificate the server presented. */
  readonly fingerprint: string;
  /** `host:port` of the server. */
  readonly server: string;
  constructor(problem: CertificateProblem, server: string, fingerprint: string, message: string) {
    super('ERR_TLS', message);
    this.name = 'CertificateError';
    this.problem = problem;
    this.fingerprint = fingerprint;
    this.server = server;
  }
}

/**
 * A listing the server ended with a 2xx reply that says it is not the directory's contents
 * (protocol/listing-reply.ts): the directory could not be read, or the listing was cut at the
 * server's limit. A ReplyError (CLI exit 6), so that a mirror treats the directory as one the server
 * would not list: nothing under it is deleted.
 */
export class IncompleteListingError extends ReplyError {
  readonly problem: ListingProblem;
  constructor(problem: ListingProblem, r: Reply, command: string, dir: string) {
    super(r.code, replyLine(r), command);
    this.name = 'IncompleteListingError';
    this.problem = problem;
    const what = dir === '' ? 'the current directory' : dir;
    this.message =
      problem === 'truncated'
        ? `The server cut the listing of ${what} short (${command}: ${r.code} ${replyLine(r)}): it holds more entries than the server lists at once (Pure-FTPd: raise its limit with -L/--limitrecursion).`
        : `The server could not read ${what} (${command}: ${r.code} ${replyLine(r)}): its listing is not its contents.`;
  }
}

/**
 * The server refused clear data (`--prot c`, dataProtection 'clear'): a 534 to PROT C, or a data
 * command refused for want of protection (vsftpd's 522 at LIST, pyftpdlib's 550 `SSL/TLS required
 * on the data channel` at PASV). A refusal by the server, whatever its code: CLI exit 6, not TLS
 * (4) nor a failed transfer (8). The reply stays readable as a ReplyError's.
 */
export class ProtectedDataRequiredError extends ReplyError {
  constructor(refusal: ReplyError) {
    super(refusal.replyCode, refusal.replyText);
    this.name = 'ProtectedDataRequiredError';
    this.message = `The server requires protected data (drop --prot c; from code, dataProtection 'clear'): ${refusal.message}`;
  }
}

/** Codes that refuse a data command in clear for want of protection (RFC 4217 9). */
const CLEAR_DATA_REFUSALS: ReadonlySet<number> = new Set([
  Code.ProtLevelRefused,
  Code.TlsNegotiationFailed,
  Code.PolicyRequiresProtection,
]);

/** Refusals of a data command in clear that say protection is wanted (those codes; pyftpdlib's 550). */
export function refusesClearData(err: ReplyError): boolean {
  if (CLEAR_DATA_REFUSALS.has(err.replyCode)) return true;
  return (
    err.replyCode === Code.FileUnavailable && /\b(?:SSL|TLS)\b.*required|protect|encrypt/i.test(err.replyText)
  );
}

/**
 * The connection could not be made (ERR_CONNECT: refused, unreachable, a name that does not
 * resolve), not within connectTimeoutMs (ERR_TIMEOUT), a reply did not come within replyTimeoutMs
 * and the connection was given up (ERR_TIMEOUT), or it broke or the server closed it (ERR_CLOSED).
 * `cause` holds the system error if any.
 */
export class ConnectionError extends FerryError {
  /** The system error code (ECONNREFUSED, ENOTFOUND, …), when there was one. */
  readonly systemCode: string | undefined;
  constructor(
    message: string,
    options?: { cause?: unknown; systemCode?: string; code?: 'ERR_CONNECT' | 'ERR_TIMEOUT' | 'ERR_CLOSED' },
  ) {
    super(options?.code ?? 'ERR_CLOSED', message, options);
    this.name = 'ConnectionError';
    this.systemCode = options?.systemCode;
  }
}

/**
 * What a 421's words say besides "closing": `refused`, this client is not wanted (its address
 * banned or blocked, too many failed logins): another try only scores against it on a server with
 * a defender or fail2ban; `busy`, too many connections (of the address, the user, the server): one
 * may free up, as lftp's ftp:retry-530 patterns read it; undefined, anything else (a restart, a
 * shutdown, an idle timeout).
 */
export type ClosingRefusal = 'refused' | 'busy' | undefined;

const REFUSED_421 =
  /\bban(?:ned)?\b|\bblock(?:ed)?\b|blacklist|denylist|denied|forbidden|not allowed|failed log|login incorrect/i;
const BUSY_421 =
  /too many|overloaded|maximum number|number of connect|more connection|already connected|simultaneous|only.*sessions?.*allowed/i;

export function closingRefusal(text: string): ClosingRefusal {
  if (REFUSED_421.test(text)) return 'refused';
  return BUSY_421.test(text) ? 'busy' : undefined;
}

/**
 * A 421 (RFC 959: the server is closing the connection), as a greeting or as any reply: the
 * connection is lost (ERR_CLOSED); `refusal` is what its text says of why.
 */
export class ServerClosingError extends ConnectionError {
  readonly replyText: string;
  readonly refusal: ClosingRefusal;
  constructor(replyText: string) {
    const refusal = closingRefusal(replyText);
    const said = `Server closing the connection: 421 ${replyText}`;
    super(refusal === 'refused' ? `${said} (it refuses this client: not retried)` : said);
    this.replyText = replyText;
    this.refusal = refusal;
  }
}

/**
 * No greeting within connectTimeoutMs (ERR_TIMEOUT): a silent server, or an implicit FTPS one asked
 * for explicit FTPS. `hint` says what may be wrong; a caller that knows more (the server greeted
 * earlier: it stopped answering) makes another with its own (`again()`).
 */
export class NoGreetingError extends ConnectionError {
  constructor(
    /** `host:port`. */
    readonly server: string,
    readonly timeoutMs: number,
    hint: string | undefined,
    cause?: unknown,
  ) {
    super(`No greeting from ${server} within ${timeoutMs} ms (connectTimeoutMs)${hint ? `; ${hint}` : ''}.`, {
      cause,
      code: 'ERR_TIMEOUT',
    });
    this.name = 'NoGreetingError';
  }

  /** The same failure on a connection to a server that greeted earlier: it stopped answering. */
  again(): NoGreetingError {
    return new NoGreetingError(
      this.server,
      this.timeoutMs,
      'it greeted an earlier connection of this run: the server has stopped answering',
      this,
    );
  }
}

/**
 * The local side of an operation failed: a local file could not be opened, read or written
 * (ENOENT, EISDIR, ENOSPC, EPIPE on a closed stdout), or the caller's own stream failed. The
 * message is the original error's; `cause` is that error.
 */
export class LocalError extends FerryError {
  /** The system error code (ENOENT, EISDIR, …), when there was one. */
  readonly systemCode: string | undefined;
  constructor(cause: unknown) {
    super('ERR_LOCAL', cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'LocalError';
    this.systemCode = systemCodeOf(cause);
  }
}

/** A system error (ENOENT, EACCES, …) from the local side as a LocalError; anything else as it is. */
export function systemAsLocal(err: unknown): unknown {
  return err instanceof FerryError || systemCodeOf(err) === undefined ? err : new LocalError(err);
}

/** A local failure as a FerryError (a FerryError stays as it is). */
export function localError(err: unknown): FerryError {
  return err instanceof FerryError ? err : new LocalError(err);
}

/** Kinds of failure, each with its own command-line exit code. */
export type FailureKind =
  'usage' | 'connection' | 'tls' | 'auth' | 'remote' | 'local' | 'transfer' | 'aborted' | 'other';

function systemCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) ? code : undefined;
}

/** Sorts an error into a FailureKind (for exit codes and messages). */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof ProtectedDataRequiredError) return 'remote';
  if (err instanceof ReplyError) {
    const c = err.replyCode;
    if (c === Code.ServiceNotAvailable) return 'connection';
    if (c === Code.CantOpenData || c === Code.TransferAborted || c === Code.TlsNegotiationFailed)
      return 'transfer';
    if (c === Code.NotLoggedIn || c === Code.NeedAccountToStore) return 'auth';
    return 'remote';
  }
  if (err instanceof FerryError) {
    switch (err.code) {
      case 'ERR_USAGE':
      case 'ERR_INVALID_OPTION':
        return 'usage';
      case 'ERR_CONNECT':
      case 'ERR_CLOSED':
      case 'ERR_TIMEOUT':
        return 'connection';
      case 'ERR_TLS':
        return 'tls';
      case 'ERR_AUTH':
        return 'auth';
      case 'ERR_DATA_CONNECTION':
        return 'transfer';
      case 'ERR_ABORTED':
        return 'aborted';
      case 'ERR_LOCAL':
        return 'local';
      case 'ERR_REMOTE':
      case 'ERR_NOT_FOUND':
      case 'ERR_EXISTS':
      case 'ERR_NOT_EMPTY':
      case 'ERR_PERMISSION_DENIED':
      case 'ERR_IS_DIRECTORY':
      case 'ERR_NOT_DIRECTORY':
        return 'remote';
      default:
        return 'other';
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return 'aborted';
  // Anything else with a system error code comes from the local file system.
  if (systemCodeOf(err) !== undefined) return 'local';
  return 'other';
}

/** Wraps a socket error from connecting (ERR_CONNECT) or from a broken connection (ERR_CLOSED). */
export function connectionError(
  what: string,
  err: unknown,
  code: 'ERR_CONNECT' | 'ERR_CLOSED' = 'ERR_CLOSED',
): ConnectionError {
  const systemCode = systemCodeOf(err);
  // OpenSSL's own message is a line of internals ending in a line break.
  const detail = describeTlsFailure(err) ?? (err instanceof Error ? err.message.trimEnd() : String(err));
  return new ConnectionError(`${what}: ${detail}`, { cause: err, systemCode, code });
}

/** A data connection could not be made, or it failed (exit code: transfer). */
export function dataConnectionError(message: string, cause?: unknown): FerryError {
  return new FerryError('ERR_DATA_CONNECTION', message, { cause });
}

/**
 * No data connection mode works with this server over IPv6: EPSV disabled (--disable-epsv) or
 * refused, and PASV cannot carry an IPv6 address (EPRT refused: PORT neither). Another try meets the
 * same: never retried (still a failed transfer, exit 8).
 */
export class Ipv6DataModeError extends FerryError {
  constructor(message: string) {
    super('ERR_DATA_CONNECTION', message);
    this.name = 'Ipv6DataModeError';
  }
}

/**
 * Active mode (EPRT/PORT): the server answered the transfer command with a 425 before it had
 * connected to this client: it could not reach the address it was given (this client behind NAT,
 * a firewall between), or its connection came from another address than the server's, which the
 * client refused (no data connection theft), e.g. a server behind NAT of its own. The reply ends
 * the transfer at once; the message names it and passive mode, which works there. Not retried
 * (another try meets the same), but for a 425 saying an address is in use (ProFTPD connecting
 * from port 20 to a client port still in TIME_WAIT), which a new port avoids.
 */
export class ActiveConnectError extends ReplyError {
  readonly inUse: boolean;
  constructor(r: Reply, command: string, hint: string) {
    super(r.code, replyLine(r), command);
    this.name = 'ActiveConnectError';
    this.message = `${this.message} (${hint})`;
    this.inUse = /in use/i.test(replyLine(r));
  }
}

/**
 * Active mode: neither the server's connection nor a reply to the transfer command came within
 * connectTimeoutMs. Never retried: the same address meets the same wait.
 */
export class ActiveTimeoutError extends FerryError {
  constructor(message: string) {
    super('ERR_DATA_CONNECTION', message);
    this.name = 'ActiveTimeoutError';
  }
}

/** A download brought more than the `size` bytes announced: stopped there (exit code: transfer). */
export function overrunError(size: number): FerryError {
  return new OverrunError(size);
}

/**
 * The server sent more than it announced (a download past its SIZE; after REST, the file from 0
 * again): the bytes are not what was asked for, and another try meets the same (never retried;
 * still a failed transfer, exit 8).
 */
export class OverrunError extends FerryError {
  constructor(readonly size: number) {
    super(
      'ERR_DATA_CONNECTION',
      `The server sent more than the ${size} bytes announced: the download was stopped there.`,
    );
  }
}

/**
 * The caller's AbortSignal ended the operation: `what` (`Transfer aborted`) with the signal's reason
 * in `cause`, and said to be a timeout when it was one (`AbortSignal.timeout()`'s TimeoutError).
 */
export function abortedError(signal: AbortSignal | undefined, what = 'Transfer aborted'): FerryError {
  const reason: unknown = signal?.reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return new FerryError(
    'ERR_ABORTED',
    `${what}${timedOut ? ': its signal timed out' : ''}.`,
    reason === undefined ? undefined : { cause: reason },
  );
}

/** Replies that say "not now" rather than "no": 452 (storage full) is not one of them. */
const TRANSIENT_REPLIES: ReadonlySet<number> = new Set([
  Code.ServiceNotAvailable,
  Code.CantOpenData,
  Code.TransferAborted,
  Code.FileUnavailableBusy,
  Code.LocalError,
]);

/** Why a connection could not be made that a server restarting (or a network hiccup) explains. */
const TRANSIENT_CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * A failure worth another try (--retry): a transient reply (421, 425, 426, 450, 451), a lost
 * control or data connection, a timeout, a connection refused or reset (a server restarting).
 * Never a 5xx, a local error, TLS, a refused login, a name that does not resolve, no data
 * connection mode for an IPv6 server (Ipv6DataModeError), an active-mode server that could not
 * connect (ActiveConnectError, ActiveTimeoutError), nor a 421 saying this client is refused
 * (ServerClosingError: banned, too many failed logins).
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof ActiveConnectError) return err.inUse;
  if (err instanceof ReplyError) return TRANSIENT_REPLIES.has(err.replyCode);
  if (err instanceof Ipv6DataModeError || err instanceof OverrunError || err instanceof ActiveTimeoutError)
    return false;
  // Another try would score against this client (a ban, failed logins): never retried.
  if (err instanceof ServerClosingError && err.refusal === 'refused') return false;
  if (err instanceof ConnectionError && err.code === 'ERR_CONNECT')
    return TRANSIENT_CONNECT_ERRORS.has(err.systemCode ?? '');
  if (!(err instanceof FerryError)) return false;
  return err.code === 'ERR_CLOSED' || err.code === 'ERR_TIMEOUT' || err.code === 'ERR_DATA_CONNECTION';
}
