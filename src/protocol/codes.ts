/** Named FTP reply codes (RFC 959, 2228, 2389, 2428, 3659, 4217). Handlers never use bare numbers. */
export const Code = {
  RestartMarker: 110,
  ServiceReadySoon: 120,
  DataOpenTransferStarting: 125,
  FileStatusOkOpeningData: 150,
  Ok: 200,
  NotImplementedSuperfluous: 202,
  SystemStatus: 211,
  DirectoryStatus: 212,
  FileStatus: 213,
  Help: 214,
  SystemType: 215,
  ServiceReady: 220,
  Closing: 221,
  DataOpenNoTransfer: 225,
  ClosingDataSuccess: 226,
  EnteringPassive: 227,
  EnteringLongPassive: 228,
  EnteringExtendedPassive: 229,
  LoggedIn: 230,
  /** RFC 2228: user logged in, authorized by security data exchange (a client certificate). */
  LoggedInBySecurityExchange: 232,
  SecurityExchangeComplete: 234,
  /** RFC 2228: AUTH accepted, security data to follow (some servers send it for AUTH TLS). */
  SecurityMechanismAccepted: 334,
  FileActionOk: 250,
  PathCreated: 257,
  NeedPassword: 331,
  NeedAccount: 332,
  PendingFurtherInfo: 350,
  ServiceNotAvailable: 421,
  CantOpenData: 425,
  TransferAborted: 426,
  FileUnavailableBusy: 450,
  LocalError: 451,
  InsufficientStorage: 452,
  SyntaxError: 500,
  SyntaxErrorArgs: 501,
  NotImplemented: 502,
  BadSequence: 503,
  NotImplementedForParam: 504,
  NotLoggedIn: 530,
  CccDenied: 533,
  PolicyRequiresProtection: 534,
  ProtLevelNotSupported: 536,
  NeedAccountToStore: 532,
  FileUnavailable: 550,
  PageTypeUnknown: 551,
  ExceededStorage: 552,
  NameNotAllowed: 553,
  /** RFC 3659 5: a REST position the command cannot use (beyond the end of the file). */
  InvalidRestParameter: 554,
  /** RFC 4217 9: the data connection cannot be opened with this PROT level. */
  ProtLevelRefused: 521,
  TlsNegotiationFailed: 522,
} as const;

/** A code the table above names. */
export type NamedCode = (typeof Code)[keyof typeof Code];

declare const unnamed: unique symbol;
/**
 * A code a server sent that the table does not name: carried as received (for messages and the
 * caller), never written by Ferry and never compared by number (compare with `Code.*` names).
 */
export type UnnamedCode = number & { readonly [unnamed]: true };

/** A reply code: one the table names, or one a server sent that it does not (closed: no bare numbers). */
export type ReplyCode = NamedCode | UnnamedCode;

/** A code as read from the wire (three digits, 100–699), named or not. */
export function wireCode(n: number): ReplyCode {
  return n as ReplyCode;
}

/** The final replies RFC 959 5.4 allows once a transfer's 150 is out (552: a full quota or disk). */
const AFTER_PRELIMINARY: ReadonlySet<ReplyCode> = new Set<ReplyCode>([
  Code.RestartMarker,
  Code.ClosingDataSuccess,
  Code.FileActionOk,
  Code.CantOpenData,
  Code.TransferAborted,
  Code.LocalError,
  Code.PageTypeUnknown,
  Code.ExceededStorage,
]);

export function allowedAfterPreliminary(code: ReplyCode): boolean {
  return AFTER_PRELIMINARY.has(code);
}
