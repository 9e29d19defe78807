/**
 * A plain FTP server scripted for client tests: a few commands over files kept in memory, every
 * command recorded (LIST and MLSD list every file, whatever their argument, or LIST the file it
 * names), and options for the quirks of real servers the tests reproduce (facts selected
 * with OPTS MLST, REST + STOR truncating as npm's ftp-srv does, a reply of the test's choosing).
 */
import net from 'node:net';

import { ScriptedServer } from './scripted-server.js';

export interface FakeFile {
  data: Buffer;
  readonly modified: Date;
  /** The unix.mode fact as the server spells it (pyftpdlib: `0o600`); none: not sent. */
  readonly mode?: string;
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
  /** A RETR of this file sends only this many bytes, then `426` (undefined: the whole file). */
  readonly cut?: (name: string) => number | undefined;
  /** The control connection's address (default 127.0.0.1). */
  readonly host?: string;
  /** Lines LIST sends after the files' (a server's own forms, lines a client cannot read). */
  readonly extraListLines?: readonly string[];
}

export class FakeFtp extends ScriptedServer {
  readonly files = new Map<string, FakeFile>();
  private facts: readonly string[];

  private constructor(private readonly o: FakeFtpOptions) {
    super();
    this.facts = o.facts ?? ['type', 'size', 'modify'];
  }

  static async start(o: FakeFtpOptions = {}): Promise<FakeFtp> {
    return new FakeFtp(o).listen(o.host);
  }

  /** The verbs received, in order (`REST`, `STOR`, …). */
  get verbs(): string[] {
    return this.commands.map((c) => c.split(' ')[0]?.toUpperCase() ?? '');
  }

  protected session(sock: net.Socket): void {
    const reply = (text: string): void => {
      sock.write(`${text}\r\n`);
      if (text.startsWith('421')) sock.end();
    };
    let data: Promise<net.Socket> | undefined;
    let rest = 0;
    reply('220 fake');
    this.commandLines(sock, (verb, arg) => {
      const quirk = this.o.answer?.(verb, arg);
      if (typeof quirk === 'string') return reply(quirk);
      if (quirk !== undefined) return void quirk.then(reply);
      const offset = rest;
      if (verb !== 'EPSV') rest = 0;
      const file = this.files.get(arg);
      if (this.common(sock, verb, reply)) return;
      switch (verb) {
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
        case 'SIZE':
          return reply(file ? `213 ${file.data.length}` : '550 no such file');
        case 'REST':
          rest = Number(arg);
          return reply(`350 restarting at ${rest}`);
        case 'EPSV':
          data = this.epsv(reply);
          return;
        case 'STOR':
        case 'APPE':
        case 'RETR':
        case 'LIST':
        case 'MLSD': {
          const d = data;
          data = undefined;
          if (!d) return reply('425 no EPSV');
          if (verb === 'RETR' && !file) return reply('550 no such file');
          reply('150 opening');
          const cut = verb === 'RETR' ? this.o.cut?.(arg) : undefined;
          void d.then(async (s) => {
            // A client aborting a download (ABOR) resets the data connection: the transfer was cut.
            let reset = false;
            s.on('error', () => (reset = true));
            if (verb === 'RETR')
              s.end(
                file?.data.subarray(offset, cut === undefined ? undefined : offset + cut) ?? Buffer.alloc(0),
              );
            else if (verb === 'MLSD') s.end(this.mlsd());
            else if (verb === 'LIST') s.end(this.list(arg));
            else this.store(verb, arg, offset, await received(s));
            if (!s.closed) await new Promise((closed) => s.once('close', closed));
            reply(cut === undefined && !reset ? '226 done' : '426 connection cut');
          });
          return;
        }
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

  /** `ls -l` lines: of the file `arg` names, as LIST of a file gives, else of every file. */
  private list(arg: string): string {
    const named = this.files.get(arg);
    const files: [string, FakeFile][] = named ? [[arg, named]] : [...this.files];
    const extra = named ? [] : (this.o.extraListLines ?? []);
    return [
      ...files.map(([name, f]) => `-rw-r--r-- 1 u g ${f.data.length} Jan 02 03:04 ${name}\r\n`),
      ...extra.map((line) => `${line}\r\n`),
    ].join('');
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
          ...(f.mode === undefined ? {} : { 'unix.mode': f.mode }),
        };
        const facts = this.facts.filter((x) => x in all).map((x) => `${x}=${all[x] ?? ''};`);
        return `${facts.join('')} ${name}\r\n`;
      })
      .join('');
  }
}

async function received(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of s) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
