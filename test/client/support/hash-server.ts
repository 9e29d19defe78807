/**
 * The scripted server the checksum tests share: FEAT offers HASH (SHA-256) and XSHA256, XSHA256
 * answers one checksum, and the test says what HASH and SIZE answer for each path.
 */
import type net from 'node:net';

import { ScriptedServer } from './scripted-server.js';

export interface HashScript {
  /** The text of the 220 greeting. */
  readonly banner: string;
  /** The 64 hex digits XSHA256 answers for every path. */
  readonly xsha256: string;
  /** The reply (one or more lines, CRLF between) to `HASH path`. */
  hash(path: string): string;
  /** The reply to `SIZE path`; `213 2` when not given. */
  size?(path: string): string;
}

export class HashServer extends ScriptedServer {
  constructor(private readonly script: HashScript) {
    super();
  }

  protected session(sock: net.Socket): void {
    this.serve(sock, `${this.script.banner}`, (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211-Features:\r\n HASH SHA-256*\r\n XSHA256\r\n SIZE\r\n211 End');
        case 'TYPE':
          return reply('200 ok');
        case 'SIZE':
          return reply(this.script.size?.(arg) ?? '213 2');
        case 'HASH':
          return reply(this.script.hash(arg));
        case 'XSHA256':
          return reply(`213 ${this.script.xsha256}`);
        default:
          return reply('502 not here');
      }
    });
  }
}
