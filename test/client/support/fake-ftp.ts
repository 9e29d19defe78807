/**
 * A plain FTP server scripted for client tests: a few commands over files kept in memory, every
 * command recorded, and options for the quirks of real servers the tests reproduce (facts selected
 * with OPTS MLST, REST + STOR truncating as npm's ftp-srv does, a reply of the test's choosing).
 */
import { once } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';

export interface FakeFile {
  data: Buffer;
  readonly modified: Date;
}

export interface FakeFtpOptions {
  /** FEAT lines (without the leading space); none: `211 no features`. */
  readonly features?: readonly string[];
  /** MLSD facts sent until OPTS MLST selects others (lowercase). */
  readonly facts?: readonly string[];
  /** STOR after REST n: 'keep' the first n bytes (RFC 3659), or 'truncate' as ftp-srv 4.6.3 (zeros). */
  readonly restStor?: 'keep' | 'truncate';
  /**
   * Answers a command before the script does (undefined: the script answers), a promise when the
   * answer comes later (a server still hashing a file). A 421 closes.
   */
  readonly answer?: (verb: string, arg: string) => string | Promise<string> | undefined;
}

export class FakeFtp {
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  readonly files = new Map<string, FakeFile>();
  private facts: readonly string[];
  private readonly server = net.createServer((sock) => this.session(sock));
  private readonly sockets = new Set<net.Socket>();
  private readonly listeners = new Set<net.Server>();

  private constructor(private readonly o: FakeFtpOptions) {
    this.facts = o.facts ?? ['type', 'size', 'modify'];
  }

  static async start(o: FakeFtpOptions = {}): Promise<FakeFtp> {
    const f = new FakeFtp(o);
    f.server.listen(0, '127.0.0.1');
    await once(f.server, 'listening');
    return f;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The verbs received, in order (`REST`, `STOR`, …). */
  get verbs(): string[] {
    return this.commands.map((c) => c.split(' ')[0]?.toUpperCase() ?? '');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const l of this.listeners) l.close();
    this.server.close();
    await once(this.server, 'close');
  }

  private track(sock: net.Socket): void {
    sock.on('error', () => {});
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
  }

  private session(sock: net.Socket): void {
    this.track(sock);
    const reply = (text: string): void => {
      sock.write(`${text}\r\n`);
      if (text.startsWith('421')) sock.end();
    };
    let data: Promise<net.Socket> | undefined;
    let rest = 0;
    reply('220 fake');
    const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
    lines.on('line', (line) => {
      this.commands.push(line);
      const sp = line.indexOf(' ');
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1);
      const quirk = this.o.answer?.(verb, arg);
      if (typeof quirk === 'string') return reply(quirk);
      if (quirk !== undefined) return void quirk.then(reply);
      const offset = rest;
      if (verb !== 'EPSV') rest = 0;
      const file = this.files.get(arg);
      switch (verb) {
        case 'USER':
          return reply('331 password');
        case 'PASS':
          return reply('230 in');
        case 'FEAT': {
          const f = this.o.features ?? [];
          return reply(
            f.length === 0
              ? '211 no features'
              : ['211-Features:', ...f.map((l) => ` ${l}`), '211 End'].join('\r\n'),
          );
        }
        case 'OPTS':
          if (/^MLST /i.test(arg)) {
            this.facts = arg
              .slice(5)
              .toLowerCase()
              .split(';')
              .filter((x) => x !== '');
            return reply(`200 MLST OPTS ${this.facts.map((x) => `${x};`).join('')}`);
          }
          return reply('200 ok');
        case 'TYPE':
        case 'NOOP':
          return reply('200 ok');
        case 'PWD':
          return reply('257 "/"');
        case 'SIZE':
          return reply(file ? `213 ${file.data.length}` : '550 no such file');
        case 'REST':
          rest = Number(arg);
          return reply(`350 restarting at ${rest}`);
        case 'EPSV': {
          const p = this.passive();
          data = p.sock;
          void p.port.then((port) => reply(`229 Entering Extended Passive Mode (|||${port}|)`));
          return;
        }
        case 'STOR':
        case 'APPE':
        case 'RETR':
        case 'MLSD': {
          const d = data;
          data = undefined;
          if (!d) return reply('425 no EPSV');
          if (verb === 'RETR' && !file) return reply('550 no such file');
          reply('150 opening');
          void d.then(async (s) => {
            if (verb === 'RETR') s.end(file?.data.subarray(offset) ?? Buffer.alloc(0));
            else if (verb === 'MLSD') s.end(this.mlsd());
            else this.store(verb, arg, offset, await received(s));
            if (!s.closed) await once(s, 'close');
            reply('226 done');
          });
          return;
        }
        case 'QUIT':
          reply('221 bye');
          sock.end();
          return;
        default:
          return reply('502 not scripted');
      }
    });
  }

  private store(verb: string, name: string, offset: number, body: Buffer): void {
    const old = this.files.get(name)?.data ?? Buffer.alloc(0);
    let data: Buffer;
    if (verb === 'APPE') data = Buffer.concat([old, body]);
    else if (offset === 0) data = body;
    // ftp-srv: createWriteStream(path, { flags: 'w+', start }) empties the file, then writes at start.
    else if (this.o.restStor === 'truncate') data = Buffer.concat([Buffer.alloc(offset), body]);
    else data = Buffer.concat([old.subarray(0, offset), body]);
    this.files.set(name, { data, modified: new Date() });
  }

  /** The files as MLSD lines, with the facts selected. */
  private mlsd(): string {
    const modify = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return [...this.files]
      .map(([name, f]) => {
        const all: Record<string, string> = {
          type: 'file',
          size: String(f.data.length),
          modify: modify(f.modified),
          perm: 'rwadf',
        };
        const facts = this.facts.filter((x) => x in all).map((x) => `${x}=${all[x] ?? ''};`);
        return `${facts.join('')} ${name}\r\n`;
      })
      .join('');
  }

  /** A one-shot passive listener. */
  private passive(): { port: Promise<number>; sock: Promise<net.Socket> } {
    const listener = net.createServer();
    this.listeners.add(listener);
    listener.once('close', () => this.listeners.delete(listener));
    const sock = new Promise<net.Socket>((resolve) => {
      listener.once('connection', (s) => {
        this.track(s);
        listener.close();
        resolve(s);
      });
    });
    listener.listen(0, '127.0.0.1');
    return {
      port: once(listener, 'listening').then(() => (listener.address() as net.AddressInfo).port),
      sock,
    };
  }
}

async function received(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of s) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
