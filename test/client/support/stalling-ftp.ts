import type net from 'node:net';
import { ScriptedServer } from './scripted-server.js';

/** Answers RETR and STOR with 150, moves 1000 bytes, then stalls: no more data, no reply. */
export class StallingFtp extends ScriptedServer {
  /** When the data stopped moving (the last byte sent, or the 1000th read). */
  stalledAt: number | undefined;

  protected session(sock: net.Socket): void {
    let data: Promise<net.Socket> | undefined;
    this.serve(sock, 'stalling', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'EPSV':
          data = this.epsv(reply);
          return;
        case 'SIZE':
          return reply('213 1000000');
        case 'RETR':
        case 'STOR': {
          const d = data;
          data = undefined;
          if (!d) return reply('425 no EPSV');
          reply('150 here');
          void d.then((s) => {
            if (verb === 'RETR') {
              s.write(Buffer.alloc(1000), () => (this.stalledAt = Date.now()));
              return;
            }
            let read = 0;
            s.on('data', (chunk: Buffer) => {
              read += chunk.length;
              if (read < 1000) return;
              s.pause();
              this.stalledAt ??= Date.now();
            });
          });
          return;
        }
        default:
          return reply('200 ok');
      }
    });
  }
}
