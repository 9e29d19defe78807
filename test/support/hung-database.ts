// A PostgreSQL that does not answer (a hung host, a postmaster stopped by SIGSTOP), made of real
// sockets the test owns instead of stopping a shared cluster: a listener that accepts and never
// says a word.
import net from 'node:net';
import { once } from 'node:events';

/** Accepts connections and holds them silently; `connected` resolves at the first one. */
export class SilentListener {
  readonly #held = new Set<net.Socket>();
  #first: () => void = () => {};
  /** The first connection came in: whoever connects is now waiting for an answer. */
  readonly connected = new Promise<void>((resolve) => (this.#first = resolve));

  private constructor(readonly server: net.Server) {
    server.on('connection', (s) => {
      this.#held.add(s);
      s.on('error', () => {}); // the peer may reset it
      s.once('close', () => this.#held.delete(s));
      s.resume(); // read and drop what it says
      this.#first();
    });
  }

  static async open(): Promise<SilentListener> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new SilentListener(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.#held) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}
