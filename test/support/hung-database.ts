// A PostgreSQL that does not answer (a hung host, a postmaster stopped by SIGSTOP), made of real
// sockets the test owns instead of stopping a shared cluster: a listener that accepts and never
// says a word, and a proxy to a real PostgreSQL that can stop forwarding while it keeps every
// connection (and accepts new ones) open.
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

/** A TCP proxy to PostgreSQL's Unix socket `target` that `freeze()` turns into a black hole. */
export class FreezableProxy {
  readonly #sockets = new Set<net.Socket>();
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #frozen = false;

  private constructor(
    readonly server: net.Server,
    readonly target: string,
  ) {
    server.on('connection', (client) => this.#accept(client));
  }

  static async open(target: string): Promise<FreezableProxy> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FreezableProxy(server, target);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** From now on nothing goes through, either way; connections stay open and new ones are held. */
  freeze(): void {
    this.#frozen = true;
    for (const [a, b] of this.#pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  #own(s: net.Socket): void {
    this.#sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => this.#sockets.delete(s));
  }

  #accept(client: net.Socket): void {
    this.#own(client);
    if (this.#frozen) return; // held, never answered
    const upstream = net.connect(this.target);
    this.#own(upstream);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = (): void => {
      this.#pairs.delete(pair);
      if (this.#frozen) return; // a frozen host sends no FIN either
      client.destroy();
      upstream.destroy();
    };
    client.once('close', end);
    upstream.once('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
