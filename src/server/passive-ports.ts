import net from 'node:net';
import { FerryError } from '../errors.js';

/**
 * Hands out listening sockets for PASV/EPSV over a configured port range (or ephemeral ports).
 * Ports in use elsewhere are skipped; a port is free again once its listener has closed.
 */
export class PassivePorts {
  private next: number;
  private readonly inUse = new Set<number>();

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.next = min;
  }

  async listen(host: string): Promise<net.Server> {
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
