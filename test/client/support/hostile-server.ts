/**
 * An implicit FTPS server whose transfers a test scripts (client tests against servers that lie or
 * fail in the middle): SIZE answers what the script says, REST is always accepted (350), EPSV opens
 * a TLS data connection, and RETR, STOR, LIST, MLSD and NLST are the script's.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import tls from 'node:tls';

import { testCertificate } from '../../support/ferry.js';
import { DialogueLog } from '../helpers.js';
import { ScriptedServer } from './scripted-server.js';

/** What the server does once the transfer command came, its data connection on its way. */
export interface Turn {
  /** The transfer command's verb (RETR, STOR, LIST, …). */
  readonly verb: string;
  reply(text: string): void;
  /** The data connection (TLS), once the client has made it. */
  data(): Promise<tls.TLSSocket>;
  /** Closes the control connection. */
  closeControl(): void;
}

/** A script: the SIZE reply and what RETR/STOR do. */
export interface Script {
  readonly size?: string;
  /** The data connections' highest TLS version (default: 1.3). */
  readonly maxVersion?: tls.SecureVersion;
  readonly transfer: (t: Turn) => void | Promise<void>;
}

export class HostileServer extends ScriptedServer {
  script: Script = { transfer: () => {} };
  /** The most bytes of endless data handed to TCP on one data connection. */
  endlessSent = 0;
  /** Each data connection's TCP socket. */
  readonly raw = new WeakMap<tls.TLSSocket, net.Socket>();

  /** The server's certificate (PEM), for a client's --ca. */
  get certificate(): string {
    return this.pair?.cert ?? '';
  }

  static async start(): Promise<HostileServer> {
    return new HostileServer(await testCertificate()).listen();
  }

  protected session(sock: net.Socket): void {
    let data: Promise<tls.TLSSocket> | undefined;
    this.serve(sock, 'hostile', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'SIZE':
          return reply(this.script.size ?? '550 no size');
        case 'REST':
          return reply('350 restarting');
        case 'EPSV':
          data = this.epsv(reply).then((raw) => {
            const { maxVersion } = this.script;
            const s = new tls.TLSSocket(raw, {
              isServer: true,
              ...this.pair,
              ...(maxVersion ? { maxVersion } : {}),
            });
            this.track(s);
            this.raw.set(s, raw);
            return new Promise((resolve) => s.once('secure', () => resolve(s)));
          });
          return;
        case 'RETR':
        case 'STOR':
        case 'LIST':
        case 'MLSD':
        case 'NLST': {
          const d = data;
          data = undefined;
          if (!d) return reply('425 no EPSV');
          void this.script.transfer({ verb, reply, data: () => d, closeControl: () => sock.destroy() });
          return;
        }
        default:
          return reply('200 ok');
      }
    });
  }
}

/**
 * Sends `bytes`, then ends the connection: with TLS close_notify and FIN, or with a bare FIN (what
 * an attacker on the path can inject).
 */
export function sendThenEnd(
  s: tls.TLSSocket,
  raw: net.Socket,
  bytes: Buffer,
  how: 'close_notify' | 'FIN',
): void {
  s.resume();
  s.write(bytes, () => (how === 'FIN' ? raw.end() : s.end()));
}

/** Ends a TLS socket (close_notify, FIN) once what was written is out. */
export async function endData(s: tls.TLSSocket, bytes: Buffer): Promise<void> {
  s.end(bytes);
  s.resume();
  await once(s, 'close');
}

/** A describe block's HostileServer, temporary directory and dialogue log, made before its tests. */
export interface HostileFixture {
  readonly server: HostileServer;
  readonly dir: string;
  readonly log: DialogueLog;
}

/** Starts a HostileServer and a temporary directory (`prefix`…) before the block's tests; removes both after. */
export function useHostileServer(prefix: string): HostileFixture {
  let server: HostileServer | undefined;
  let dir = '';
  const log = new DialogueLog();
  before(async () => {
    server = await HostileServer.start();
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  after(async () => {
    await server?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });
  return {
    get server(): HostileServer {
      if (!server) throw new Error('useHostileServer: used before its before() hook ran');
      return server;
    },
    get dir(): string {
      return dir;
    },
    log,
  };
}
