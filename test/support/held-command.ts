/**
 * A relay for a plain FTP control connection that holds back the first command matching a pattern:
 * the client has asked and the server has not been told, so a test can stop the server at that
 * exact step (a HASH, an MLST), with no race against its reply. Later connections pass untouched.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { TestContext } from 'node:test';

export interface HeldCommand {
  /** The relay's port, on 127.0.0.1: the client's URL names it. */
  readonly port: number;
  /** Resolves with the command's line once it is held. */
  readonly held: Promise<string>;
}

export async function holdCommand(t: TestContext, serverPort: number, command: RegExp): Promise<HeldCommand> {
  const sockets = new Set<net.Socket>();
  let armed = true;
  let onHeld: (line: string) => void = () => undefined;
  const held = new Promise<string>((resolve) => (onHeld = resolve));
  const relay = net.createServer((client) => {
    const server = net.connect(serverPort, '127.0.0.1');
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('error', () => undefined); // the server is killed: a reset ends both sides
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    server.on('data', (d: Buffer) => client.write(d));
    let pending = '';
    let holding = false;
    client.setEncoding('latin1').on('data', (d: string) => {
      pending += d;
      for (let end = pending.indexOf('\n'); end >= 0 && !holding; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end + 1);
        pending = pending.slice(end + 1);
        if (armed && command.test(line)) {
          [armed, holding] = [false, true];
          onHeld(line.trimEnd());
        } else server.write(line, 'latin1');
      }
    });
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return { port: (relay.address() as net.AddressInfo).port, held };
}
