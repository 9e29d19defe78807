import { inspect } from 'node:util';
import type { PermissionRules } from './permissions.js';

/** A string that never prints: String(), JSON.stringify and util.inspect all give '****'. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The only way to read the value; grep for it when auditing. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '****';
  }

  toJSON(): string {
    return '****';
  }

  [Symbol.toPrimitive](): string {
    return '****';
  }

  [inspect.custom](): string {
    return '****';
  }
}

/**
 * The certificate the client presented on the control connection's current TLS session, as the
 * server checked it (the server's tls/client-certificate.ts makes it).
 */
export interface ClientCertificate {
  /** SHA-256 of the DER, `AA:BB:…`. */
  readonly fingerprint: string;
  readonly commonName: string | undefined;
  /** The whole subject on one line (`O=Example, CN=laptop`); for the log. */
  readonly subject?: string;
  /** Why it is not valid now (outside its dates), or undefined. */
  readonly invalidNow: string | undefined;
  /**
   * Why it may not vouch for a user as a configured client CA's (OpenSSL's path validation failed,
   * or it is a CA certificate); undefined: it may, dates included.
   */
  readonly untrusted: string | undefined;
}

export interface Credentials {
  username: string;
  password: Secret;
  remoteAddress: string;
  /** True when the control connection was protected by TLS when the password was sent. */
  tls: boolean;
  /** The client certificate of the current control TLS session, if the client presented one. */
  clientCertificate?: ClientCertificate;
}

/** A login attempt by certificate alone (at USER, before any password). */
export type CertificateCredentials = Omit<Credentials, 'password'> & {
  clientCertificate: ClientCertificate;
};

export interface Principal {
  username: string;
  /**
   * Where the user's files live, in the terms of the storage `storageFor` builds (a host directory
   * for LocalStorage; a bucket prefix or a tenant id for other backends). Opaque to the server: it
   * is never used as a path, logged or shown; only `storageFor` reads it.
   */
  home: string;
  readOnly: boolean;
  /**
   * Virtual folders: virtual path → where the folder's files live, in the same terms as `home`
   * (opaque to the server, read only by `storageFor`).
   */
  folders?: Readonly<Record<string, string>>;
  /** Permissions by virtual directory; the longest covering rule wins (see permissionsAt). */
  permissions?: PermissionRules;
  /** Names this user may not see or use, besides the server's `denyFiles` (server/denied-names.ts). */
  denyFiles?: readonly string[];
  /** LIST/NLST/STAT leave out dot-files unless asked with `-a` (undefined: the server's hideDotFiles). */
  hideDotFiles?: boolean;
  /** Concurrent sessions allowed for this user (undefined or 0: no limit). */
  maxSessions?: number;
  /** Bytes and regular files the user may store (undefined or 0: no limit). */
  quotaSize?: number;
  quotaFiles?: number;
  /** Bytes per second for all of the user's transfers in a process (undefined or 0: unlimited). */
  uploadRate?: number;
  downloadRate?: number;
  /** An anonymous FTP login (any password): the log and the transfer log say so. */
  anonymous?: boolean;
  /** false: HASH is refused (502) and FEAT leaves it out; it reads a whole file per command. */
  hash?: boolean;
}

/**
 * `reason` is for the server log; clients get a generic reply. `unknownUser` tells the defender
 * (which scores it higher), never the client.
 */
export type AuthOutcome =
  | { ok: true; principal: Principal }
  | {
      ok: false;
      reason: string;
      unknownUser?: boolean;
      /** The account store could not be reached: not the client's fault (421, no defender score). */
      unavailable?: boolean;
      /**
       * With `unavailable`: a password checked offline against a cached account did not match. The
       * client gets the same 421 as every offline refusal (cached names are not told apart), but the
       * defender scores it as a failed login: guesses are not free while the store is away.
       */
      guess?: boolean;
      /** An anonymous login refused (allowFrom, expiry): not a failed login (no defender score). */
      anonymous?: boolean;
      /**
       * At USER (authenticateByCertificate): a certificate was presented for an account that logs
       * in by one, and refused (`reason` says why: OpenSSL's, a pin…). Logged then, whatever PASS
       * does next: with cert-or-password the password may still log the user in.
       */
      certificateRefused?: boolean;
    };

/**
 * Told when an account changed: the principal its sessions now have, or undefined when the account
 * was removed or disabled: the server then ends its sessions. An expiry applies from the next login.
 */
export type AccountListener = (
  username: string,
  principal: Principal | undefined,
  gone?: AccountGone,
) => void;

/** Why an account's sessions end, when the authenticator knows: said in the log and the transfer's 426. */
export type AccountGone = 'removed' | 'disabled';

export interface Authenticator {
  authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome>;
  /**
   * Optional: logs in by the client certificate alone (at USER), for accounts allowed to log in
   * without a password. A refusal here only means "ask for the password" (331); its reason is for
   * the log. Never slow: no password hashing.
   */
  authenticateByCertificate?(c: CertificateCredentials, signal: AbortSignal): Promise<AuthOutcome>;
  /** Optional: reports account changes as they happen; returns the unsubscribe function. */
  watch?(listener: AccountListener): () => void;
}
