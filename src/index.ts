export { FerryServer, type ListeningAddresses } from './server/server.js';
export { type ServerOptions, type ListenerOptions } from './server/options.js';
export {
  FerryError,
  StorageError,
  ReplyError,
  type FerryErrorCode,
  type StorageErrorKind,
} from './errors.js';
export { type Logger, silentLogger } from './logger.js';
export { LocalStorage, type LocalStorageOptions } from './storage/local.js';
export { withLimits, LimitedStorage, type UserLimits, type LimitsContext } from './storage/limited.js';
export { QuotaBook, scanUsage, type Usage, type UsageLedger } from './storage/quota.js';
export { RateBuckets, TokenBucket } from './storage/throttle.js';
export { UsageFile } from './auth/usage-file.js';
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export { type StorageBackend, type StorageContext, type FileStat, type VPath } from './storage/types.js';
export { UserTable, type UserEntry, type PlainUserEntry } from './auth/users.js';
export { hashPassword, verifyPassword } from './auth/password.js';
export { StaticAccounts, type Account, type AccountStore } from './auth/account.js';
export { AccountAuthenticator, type LoginCacheOptions } from './auth/authenticator.js';
export { UsersFileStore, readUsersFile, writeUsersFile, editUsersFile } from './auth/users-file.js';
export { PERMISSIONS, permissionsAt, type Permission, type PermissionRules } from './auth/permissions.js';
export {
  Secret,
  type AccountListener,
  type Authenticator,
  type Credentials,
  type Principal,
  type AuthOutcome,
} from './auth/types.js';
export { generateSelfSigned, fingerprintOf } from './tls/certificates.js';
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
} from './client/client.js';
export {
  LoginError,
  CertificateError,
  ConnectionError,
  failureKind,
  type FailureKind,
  type CertificateProblem,
} from './client/errors.js';
export { mirror, type MirrorOptions, type MirrorEvent, type MirrorResult } from './client/mirror.js';
export {
  KnownHostsFile,
  normalizeFingerprint,
  defaultKnownHostsFile,
  type KnownHostsStore,
  type TrustDecision,
} from './client/trust.js';
export { parseFtpUrl, resolveCredentials, type FtpUrl } from './client/url.js';
export { type ProtocolEvent, type ProtocolLogger } from './client/control.js';
