import net from 'node:net';
import { FerryError } from '../errors.js';

/** Who asks for a passive port: counted against the limits until its listener closes. */
export interface PassiveOwner {
  readonly address: string;
  readonly user: string | undefined;
}

export interface PassiveLimits {
  readonly perAddress: number;
  readonly perUser: number;
}

/** A passive port refused because its owner holds too many: 425, and scored by the defender. */
export class PassiveLimitError extends FerryError {
  constructor(message: string) {
    super('ERR_PASSIVE_LIMIT', message);
  }
}

/**
 * Hands out listening sockets for PASV/EPSV over a configured port range (or ephemeral ports).
 * Ports in use elsewhere are skipped; a port is free again once its listener has closed. The range
 * is shared by everyone: each client address and each user may hold only so many listeners that
 * nobody connected to yet, so a hundred idle PASVs cannot take every port.
 */
export class PassivePorts {
  private next: number;
  private readonly inUse = new Set<number>();
  private readonly held = new Map<string, number>();

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly limits: PassiveLimits = { perAddress: Infinity, perUser: Infinity },
  ) {
    this.next = min;
  }

  async listen(host: string, owner?: PassiveOwner): Promise<net.Server> {
    const keys = owner ? this.hold(owner) : [];
    try {
      const server = await this.open(host);
      server.once('close', () => keys.forEach((k) => this.release(k)));
      return server;
    } catch (err) {
      keys.forEach((k) => this.release(k));
      throw err;
    }
  }

  private hold(owner: PassiveOwner): string[] {
    const byAddress = `a ${owner.address}`;
    const byUser = owner.user === undefined ? undefined : `u ${owner.user}`;
    if ((this.held.get(byAddress) ?? 0) >= this.limits.perAddress) {
      throw new PassiveLimitError(
        `Too many passive connections pending from your address (${this.limits.perAddress}); connect to them or close them first.`,
      );
    }
    if (byUser && (this.held.get(byUser) ?? 0) >= this.limits.perUser) {
      throw new PassiveLimitError(
        `Too many passive connections pending for this user (${this.limits.perUser}); connect to them or close them first.`,
      );
    }
    const keys = byUser ? [byAddress, byUser] : [byAddress];
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    return keys;
  }

  private release(key: string): void {
    const left = (this.held.get(key) ?? 0) - 1;
    if (left > 0) this.held.set(key, left);
    else this.held.delete(key);
  }

  private async open(host: string): Promise<net.Server> {
    if (this.min === 0) return listenOn(host, 0);
    const span = this.max - this.min + 1;
    for (let tries = 0; tries < span; tries++) {
      const port = this.next;
      this.next = port >= this.max ? this.min : port + 1;
      if (this.inUse.has(port)) continue;
      this.inUse.add(port);
      try {
        const server = await listenOn(host, port);
        server.once('close', () => this.inUse.delete(port));
        return server;
      } catch {
        this.inUse.delete(port);
      }
    }
    throw new FerryError('ERR_DATA_CONNECTION', 'No passive port is free.');
  }
}

function listenOn(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => {}); // later errors surface on the sockets; the owner closes the server
      resolve(server);
    });
  });
}
