/**
 * The FTPS client alone: `import { FerryClient } from 'ferry/client'` loads none of the server's
 * modules (pino, prom-client, pg, the S3 SDK), which cost most of a second of CPU to load; the
 * package's main entry ('ferry') exports the same names beside the server's.
 */
export { FerryError, ReplyError, type FerryErrorCode } from '../errors.js';
export {
  FerryClient,
  parseListText,
  parseMlsdText,
  type ClientOptions,
  type RemoteEntry,
  type Progress,
  type TransferOptions,
  type GetOptions,
  type PutOptions,
  type TransferSummary,
  type ListOptions,
  type RemoveOptions,
  type MkdirOptions,
} from './client.js';
export {
  LoginError,
  CertificateError,
  ConnectionError,
  LocalError,
  IncompleteListingError,
  NoGreetingError,
  ProtectedDataRequiredError,
  failureKind,
  type FailureKind,
  type CertificateProblem,
} from './errors.js';
export { mirror, type MirrorOptions, type MirrorEvent, type MirrorResult } from './mirror.js';
export {
  KnownHostsFile,
  CA_VERIFIED,
  normalizeFingerprint,
  defaultKnownHostsFile,
  type KnownHostsStore,
  type TrustDecision,
} from './trust.js';
export { parseFtpUrl, resolveCredentials, type FtpUrl, type Security } from './url.js';
export { type Checksum, type ChecksumOptions } from './checksum.js';
export { type Reply } from '../protocol/reply.js';
export { type ReplyCode } from '../protocol/codes.js';
export { type ListingProblem } from '../protocol/listing-reply.js';
export { type ProtocolEvent, type ProtocolLogger } from './control.js';
