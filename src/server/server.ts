import net from 'node:net';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { normalizeAddress } from '../protocol/address.js';
import { CertificateStore } from '../tls/certificates.js';
import { refuseConnection, SessionCounts } from './admission.js';
import { commandSpecs, commandTable } from './commands/registry.js';
import { ControlConnection, type ServerRuntime } from './control-connection.js';
import { openListener } from './listener.js';
import { Logins, type UserSessionCounter } from './logins.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { PassivePorts } from './passive-ports.js';
import { WarningLimiter } from './warning-limiter.js';

export interface ListeningAddresses {
  explicit?: net.AddressInfo;
  implicit?: net.AddressInfo;
}

/**
 * Ferry's FTPS server: an explicit (AUTH TLS) and an implicit (TLS first) listener sharing one
 * configuration. Owns its listeners and every control connection; close() is graceful, destroy()
 * immediate; both idempotent.
 */
export class FerryServer {
  readonly options: ResolvedOptions;
  private readonly certificates: CertificateStore;
  private readonly runtime: ServerRuntime;
  private readonly listeners: net.Server[] = [];
  private readonly connections = new Set<ControlConnection>();
  private readonly counts: SessionCounts;
  private addresses: ListeningAddresses = {};
  private closing: Promise<void> | undefined;
  /** Stops following account changes (the authenticator's watch). */
  private readonly unwatch: () => void;

  constructor(options: ServerOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.certificates = new CertificateStore(
      { files: o.certificates, dataDir: o.dataDir },
      { minVersion: o.minVersion },
    );
    this.runtime = {
      options: o,
      certificates: this.certificates,
      passivePorts: new PassivePorts(o.passive.portMin, o.passive.portMax),
      commands: commandTable(commandSpecs),
      specs: commandSpecs,
      logger: o.logger,
      warnings: new WarningLimiter(o.logger),
      logins: new Logins(),
    };
    this.counts = new SessionCounts(o.limits);
    const logins = this.runtime.logins;
    this.unwatch = o.authenticator.watch?.((name, p) => logins.accountChanged(name, p)) ?? (() => {});
  }

  /** Per-user session limits counted by `counter` (a cluster worker's primary) instead of here. */
  countUserSessionsWith(counter: UserSessionCounter): void {
    this.runtime.logins.countWith(counter);
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Loads certificates (generating the self-signed default if needed), then listens. */
  async listen(): Promise<
    ListeningAddresses & { generatedCertificate: boolean; fingerprints: readonly string[] }
  > {
    const { generated } = await this.loadCertificates();
    const { explicit, implicit } = this.options;
    if (explicit) this.addresses.explicit = await this.open(explicit.host, explicit.port, false);
    if (implicit) this.addresses.implicit = await this.open(implicit.host, implicit.port, true);
    return { ...this.addresses, generatedCertificate: generated, fingerprints: this.certificates.sha256 };
  }

  /**
   * Loads certificates (generating the self-signed default if needed) without listening: for a
   * server that is handed connections accepted elsewhere (handleConnection).
   */
  async loadCertificates(): Promise<{ generated: boolean }> {
    if (this.closing) throw new FerryError('ERR_CLOSED', 'Server is closed.');
    return this.certificates.load();
  }

  get address(): ListeningAddresses {
    return this.addresses;
  }

  get fingerprints(): readonly string[] {
    return this.certificates.sha256;
  }

  get sessionCount(): number {
    return this.connections.size;
  }

  /** Re-reads certificate files; sessions already running keep the certificate they started with. */
  async reloadCertificates(): Promise<readonly string[]> {
    await this.certificates.load();
    this.logger.info({ fingerprints: this.certificates.sha256 }, 'certificates reloaded');
    return this.certificates.sha256;
  }

  /** Stops accepting, lets transfers finish (up to timeouts.closeGraceMs), then closes everything. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // net.Server#close() stops accepting at once but calls back only after every connection it
      // accepted has ended: start it, end the sessions, then wait for both (awaiting it first hangs).
      const stopped = Promise.all(
        this.listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))),
      );
      const grace = this.options.timeouts.closeGraceMs;
      await Promise.all([...this.connections].map((c) => c.shutdown(grace)));
      const timer = setTimeout(() => this.destroy(), grace);
      await Promise.all([...this.connections].map((c) => c.closed));
      clearTimeout(timer);
      await stopped;
      this.unwatch();
      this.runtime.warnings.dispose();
    })();
    return this.closing;
  }

  /** Closes every socket now. */
  destroy(): void {
    for (const l of this.listeners) l.close();
    for (const c of this.connections) c.destroy();
    this.unwatch();
    this.runtime.warnings.dispose();
  }

  private async open(host: string, port: number, implicit: boolean): Promise<net.AddressInfo> {
    const where = { host, port, implicit, logger: this.logger };
    const { server, address } = await openListener(where, (s) => this.handleConnection(s, implicit));
    this.listeners.push(server);
    return address;
  }

  /**
   * Serves one control connection: accepted by this server's listeners, or elsewhere (a cluster
   * worker is handed the sockets its primary accepted; call loadCertificates() first).
   */
  handleConnection(socket: net.Socket, implicit: boolean): void {
    socket.on('error', () => {});
    const address = normalizeAddress(socket.remoteAddress ?? '');
    if (this.closing || !this.counts.admit(address)) {
      this.runtime.warnings.warn(
        this.logger,
        address,
        { remote: address },
        'connection refused: too many sessions',
      );
      refuseConnection(socket, implicit);
      return;
    }
    const conn = new ControlConnection(socket, implicit, this.runtime);
    this.connections.add(conn);
    void conn.closed.then(() => {
      this.connections.delete(conn);
      this.counts.release(address);
    });
    void conn.start();
  }
}
