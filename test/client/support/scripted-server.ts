/**
 * What the client tests' scripted FTP servers share: the control server (plain, or implicit TLS
 * with a key pair) on an ephemeral port, clients of it, every socket, listener and timer (all
 * closed by close()), command lines recorded and split into verb and argument, the replies every
 * script gives alike, and EPSV (a one-shot listener). The subclass answers the rest (session),
 * most through serve(): the greeting, then its switch on the verb.
 */
import { once } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';
import tls from 'node:tls';

import { FerryClient, type ClientOptions } from '../../../src/client/client.js';
import type { KeyPair } from '../../../src/tls/certificates.js';

const COMMON: ReadonlyMap<string, string> = new Map([
  ['USER', '331 password'],
  ['PASS', '230 in'],
  ['PWD', '257 "/"'],
  ['QUIT', '221 bye'],
]);

/** Sends one reply line (CRLF added); nothing once the control connection is destroyed. */
export type Reply = (text: string) => void;

/** A script's answer to a command common() did not answer. */
export type Answer = (verb: string, arg: string, reply: Reply) => void;

export abstract class ScriptedServer {
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  private readonly control: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly listeners = new Set<net.Server>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly clients: FerryClient[] = [];

  /** With a key pair, the control connection is implicit TLS. */
  constructor(protected readonly pair?: KeyPair) {
    const accept = (sock: net.Socket): void => {
      this.track(sock);
      this.session(sock);
    };
    this.control = pair ? tls.createServer(pair, accept) : net.createServer(accept);
  }

  async listen(host = '127.0.0.1'): Promise<this> {
    this.control.listen(0, host);
    await once(this.control, 'listening');
    return this;
  }

  get port(): number {
    return (this.control.address() as net.AddressInfo).port;
  }

  /** A client logged in as u (implicit TLS with the key pair, else plain FTP), closed by close(). */
  async connect(extra: Partial<ClientOptions> = {}): Promise<FerryClient> {
    const security: Partial<ClientOptions> = this.pair
      ? { security: 'implicit', ca: this.pair.cert }
      : { security: 'none', allowPlain: true };
    const client = await FerryClient.connect({
      host: '127.0.0.1',
      port: this.port,
      ...security,
      user: 'u',
      password: 'p',
      ...extra,
    });
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close();
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) s.destroy();
    for (const l of this.listeners) l.close();
    this.control.close();
    await once(this.control, 'close');
  }

  /** Repeats `fn` until the server closes (a hostile server that never stops). */
  every(ms: number, fn: () => void): void {
    this.timers.add(setInterval(fn, ms));
  }

  /** A control connection, already tracked. */
  protected abstract session(sock: net.Socket): void;

  /** Records a command line and splits it: the verb in upper case, the argument as sent. */
  protected parse(line: string): { verb: string; arg: string } {
    this.commands.push(line);
    const sp = line.indexOf(' ');
    return { verb: (sp < 0 ? line : line.slice(0, sp)).toUpperCase(), arg: sp < 0 ? '' : line.slice(sp + 1) };
  }

  /** Answers what every script answers alike (anyone logs in, at the root; QUIT); else false. */
  protected common(sock: net.Socket, verb: string, reply: (text: string) => unknown): boolean {
    const text = COMMON.get(verb);
    if (text === undefined) return false;
    reply(text);
    if (verb === 'QUIT') sock.end();
    return true;
  }

  /**
   * Runs a control connection as the scripts do: the `220 banner` greeting, then each command line
   * answered by common() or else by `answer`. Returns the reply function (for replies sent later).
   */
  protected serve(sock: net.Socket, banner: string, answer: Answer): Reply {
    const reply: Reply = (text) => {
      if (!sock.destroyed) sock.write(`${text}\r\n`);
    };
    reply(`220 ${banner}`);
    this.commandLines(sock, (verb, arg) => {
      if (!this.common(sock, verb, reply)) answer(verb, arg, reply);
    });
    return reply;
  }

  /** Reads a control connection's command lines (UTF-8), each parsed. */
  protected commandLines(sock: net.Socket, command: (verb: string, arg: string) => void): void {
    const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
    // readline re-emits its input's errors: a client's reset (ECONNRESET) would be uncaught.
    lines.on('error', () => {});
    lines.on('line', (line) => {
      const { verb, arg } = this.parse(line);
      command(verb, arg);
    });
  }

  protected track(sock: net.Socket): void {
    sock.on('error', () => {});
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
  }

  /**
   * Answers EPSV: a one-shot passive listener (plain TCP unless given), `229` with its port once it
   * listens. Returns its first connection (tracked).
   */
  protected epsv(
    reply: (text: string) => unknown,
    listener: net.Server = net.createServer(),
    event = 'connection',
  ): Promise<net.Socket> {
    this.listeners.add(listener);
    listener.once('close', () => this.listeners.delete(listener));
    listener.listen(0, '127.0.0.1', () =>
      reply(`229 Entering Extended Passive Mode (|||${(listener.address() as net.AddressInfo).port}|)`),
    );
    return new Promise((resolve) => {
      listener.once(event, (s: net.Socket) => {
        this.track(s);
        listener.close();
        resolve(s);
      });
    });
  }
}
