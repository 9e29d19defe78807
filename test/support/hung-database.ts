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

/** One client connection through the proxy, and what waits in it while frozen. */
interface Link {
  readonly client: net.Socket;
  upstream?: net.Socket;
  /** What the client sent while frozen: PostgreSQL gets it at the thaw, as a stopped host would. */
  toServer: Buffer[];
  toClient: Buffer[];
  /** The client hung up while frozen (its timeout): forwarded after what it sent, at the thaw. */
  ended: boolean;
}

/**
 * A TCP proxy to PostgreSQL's Unix socket `target` that `freeze()` turns into a black hole and
 * `thaw()` back: what clients sent meanwhile (a statement their timeout gave up on) reaches
 * PostgreSQL then, as it would a host stopped and resumed.
 */
export class FreezableProxy {
  readonly #sockets = new Set<net.Socket>();
  readonly #links = new Set<Link>();
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
  }

  /**
   * Everything held goes through, and what follows. Resolves once PostgreSQL closed each connection
   * whose client left meanwhile: it has then run what that client sent (a statement given up on).
   */
  async thaw(): Promise<void> {
    this.#frozen = false;
    const closed: Promise<unknown>[] = [];
    for (const link of this.#links) {
      const upstream = link.upstream ?? this.#connect(link);
      for (const d of link.toServer.splice(0)) upstream.write(d);
      for (const d of link.toClient.splice(0)) link.client.write(d);
      if (link.ended) {
        closed.push(once(upstream, 'close'));
        upstream.end();
      }
    }
    await Promise.all(closed);
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
    const link: Link = { client, toServer: [], toClient: [], ended: false };
    this.#links.add(link);
    client.on('data', (d: Buffer) => {
      if (this.#frozen || !link.upstream) link.toServer.push(d);
      else link.upstream.write(d);
    });
    const left = (): void => {
      if (this.#frozen) {
        link.ended = true; // a frozen host sees the FIN only once it runs again
        return;
      }
      this.#links.delete(link);
      link.upstream?.end();
    };
    client.once('end', left);
    client.once('close', () => {
      if (!link.ended) left();
    });
    if (!this.#frozen) this.#connect(link);
  }

  #connect(link: Link): net.Socket {
    const upstream = net.connect(this.target);
    this.#own(upstream);
    link.upstream = upstream;
    for (const d of link.toServer.splice(0)) upstream.write(d);
    upstream.on('data', (d: Buffer) => {
      if (this.#frozen) link.toClient.push(d);
      else link.client.write(d);
    });
    upstream.once('close', () => {
      if (this.#frozen) return; // a frozen host sends no FIN either
      this.#links.delete(link);
      link.client.destroy();
    });
    return upstream;
  }
}
