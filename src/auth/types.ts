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

export interface Credentials {
  username: string;
  password: Secret;
  remoteAddress: string;
  /** True when the control connection was protected by TLS when the password was sent. */
  tls: boolean;
}

export interface Principal {
  username: string;
  /**
   * Where the user's files live, in the terms of the storage `storageFor` builds (a host directory
   * for LocalStorage; a bucket prefix or a tenant id for other backends). Opaque to the server: it
   * is never used as a path, logged or shown; only `storageFor` reads it.
   */
  home: string;
  readOnly: boolean;
  /** Permissions by virtual directory; the longest covering rule wins (see permissionsAt). */
  permissions?: PermissionRules;
  /** Concurrent sessions allowed for this user (undefined or 0: no limit). */
  maxSessions?: number;
  /** Bytes and regular files the user may store (undefined or 0: no limit). */
  quotaSize?: number;
  quotaFiles?: number;
  /** Bytes per second for all of the user's transfers in a process (undefined or 0: unlimited). */
  uploadRate?: number;
  downloadRate?: number;
}

/**
 * `reason` is for the server log; clients get a generic reply. `unknownUser` tells the defender
 * (which scores it higher), never the client.
 */
export type AuthOutcome =
  { ok: true; principal: Principal } | { ok: false; reason: string; unknownUser?: boolean };

/**
 * Told when an account changed: the principal its sessions now have, or undefined when the account
 * may no longer be used (removed, disabled, expired): the server then ends its sessions.
 */
export type AccountListener = (username: string, principal: Principal | undefined) => void;

export interface Authenticator {
  authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome>;
  /** Optional: reports account changes as they happen; returns the unsubscribe function. */
  watch?(listener: AccountListener): () => void;
}
