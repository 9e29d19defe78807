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
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export { type StorageBackend, type StorageContext, type FileStat, type VPath } from './storage/types.js';
export { UserTable, type UserEntry, type PlainUserEntry } from './auth/users.js';
export { hashPassword, verifyPassword } from './auth/password.js';
export {
  Secret,
  type Authenticator,
  type Credentials,
  type Principal,
  type AuthOutcome,
} from './auth/types.js';
export { generateSelfSigned, fingerprintOf } from './tls/certificates.js';
