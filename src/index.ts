export { FerryServer, type ListeningAddresses } from './server/server.js';
export {
  OptionError,
  type ServerOptions,
  type ListenerOptions,
  type TransferRecord,
  type PassiveAddressRule,
} from './server/options.js';
export { formatXferlog } from './server/xferlog.js';
export { AdminServer, type AdminOptions, type AdminSource } from './admin/admin-server.js';
export {
  FerryError,
  StorageError,
  ReplyError,
  type FerryErrorCode,
  type StorageErrorKind,
} from './errors.js';
export { type Logger, silentLogger } from './logger.js';
export { LocalStorage, type LocalStorageOptions } from './storage/local.js';
export { UploadLocks } from './storage/upload-locks.js';
export { PoolBudget } from './storage/pool-budget.js';
export { withLimits, LimitedStorage, type UserLimits, type LimitsContext } from './storage/limited.js';
export { withFolders, MountedStorage, type Folder } from './storage/mounts.js';
export { QuotaBook, scanUsage, type Usage, type UsageLedger } from './storage/quota.js';
export { RateBuckets, TokenBucket } from './storage/throttle.js';
export { UsageFile } from './auth/usage-file.js';
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export { S3Storage, type S3StorageOptions } from './storage/s3.js';
export { S3Connection, s3Settings, type S3Settings, type S3SettingsInput } from './storage/s3-connection.js';
export {
  type StorageBackend,
  type StorageContext,
  type FileStat,
  type VPath,
  type PreparedWrite,
  type FileSource,
  type StorageFeature,
} from './storage/types.js';
// A custom backend's paths (FileStat.path, uniqueName) are VPaths: these make and check them.
export {
  ROOT as VPATH_ROOT,
  isVPath,
  resolveVPath,
  joinVPath,
  parentOf,
  baseName,
} from './storage/virtual-path.js';
export { UserTable, type UserEntry, type PlainUserEntry } from './auth/users.js';
export { DEFAULT_SCRYPT_COST, hashPassword, verifyPassword, type ScryptCost } from './auth/password.js';
export { StaticAccounts, type Account, type AccountStore, type AccountDirectory } from './auth/account.js';
export { AccountAuthenticator, type LoginCacheOptions } from './auth/authenticator.js';
export { UsersFileStore, readUsersFile, writeUsersFile, editUsersFile } from './auth/users-file.js';
export { PERMISSIONS, permissionsAt, type Permission, type PermissionRules } from './auth/permissions.js';
export {
  Secret,
  type AccountGone,
  type AccountListener,
  type Authenticator,
  type Credentials,
  type CertificateCredentials,
  type ClientCertificate,
  type Principal,
  type AuthOutcome,
} from './auth/types.js';
export { generateSelfSigned, fingerprintOf, type CertificateMaterial } from './tls/certificates.js';
export { type DefenderEvent } from './defender/defender.js';
export { type SharedBans } from './defender/shared-bans.js';
export { type CutRecord, type SharedCutUploads } from './shared-cut-uploads.js';
export { Database, type DatabaseOptions } from './db/database.js';
export { PgAccounts } from './db/accounts.js';
export { PgBans } from './db/bans.js';
export { PgUsage } from './db/usage.js';
export { PgSessions, type SessionLeaseOptions } from './db/sessions.js';
export { PgCutUploads } from './db/cut-uploads.js';
// The client, also importable alone as 'ferry/client' (without the server's modules).
export * from './client/bundle.js';
