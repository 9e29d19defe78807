import net from 'node:net';
import { withDeadline } from './raw-ftp.js';

/**
 * What the explicit port says to a new connection from `from` (a 127.0.0.0/8 address: a banned
 * one gets 421) before it closes ('' = nothing yet); bounded wait.
 */
export async function greetingFor(port: number, from: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
  socket.on('error', () => {});
  try {
    return await withDeadline(
      new Promise<string>((resolve) => {
        socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
        socket.once('close', () => resolve(''));
      }),
      10_000,
      'the greeting',
    );
  } finally {
    socket.destroy();
  }
}
