import { inspect } from 'node:util';

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
}

/**
 * `reason` is for the server log; clients get a generic reply. `unknownUser` tells the defender
 * (which scores it higher), never the client.
 */
export type AuthOutcome =
  { ok: true; principal: Principal } | { ok: false; reason: string; unknownUser?: boolean };

export interface Authenticator {
  authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome>;
}
