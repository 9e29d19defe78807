import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import os from 'node:os';

/**
 * How many bytes a TCP socket has sent that its peer has not acknowledged yet, read from Linux's
 * /proc/net/tcp{,6} (`tx_queue` of the line with the socket's addresses and ports): Node tells
 * only what the kernel took, not what left it. Undefined elsewhere, or when the socket is not listed
 * (closed, or not TCP).
 */
export async function unacknowledged(sock: net.Socket): Promise<number | undefined> {
  const { localAddress, localPort, remoteAddress, remotePort } = sock;
  if (!localAddress || !remoteAddress || localPort === undefined || remotePort === undefined)
    return undefined;
  const v4 = net.isIPv4(localAddress) && net.isIPv4(remoteAddress);
  const local = `${procAddress(localAddress)}:${procPort(localPort)}`;
  const remote = `${procAddress(remoteAddress)}:${procPort(remotePort)}`;
  const text = await readFile(v4 ? '/proc/net/tcp' : '/proc/net/tcp6', 'latin1').catch(() => '');
  for (const line of text.split('\n')) {
    // `sl local_address rem_address st tx_queue:rx_queue …`
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) return parseInt(f[4]?.split(':')[0] ?? '', 16) || 0;
  }
  return undefined;
}

/**
 * Bytes of a socket's writes that the kernel has not taken yet (libuv's write queue, as Node's own
 * idle timer reads it); changes while a large write is taken bit by bit. 0 when unknown.
 */
export function waitingForKernel(sock: net.Socket): number {
  const handle = (sock as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle;
  return typeof handle?.writeQueueSize === 'number' ? handle.writeQueueSize : 0;
}

function procPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/** An address as /proc prints it: each 32-bit word in the machine's byte order, in hex. */
function procAddress(address: string): string {
  const bytes = net.isIPv4(address) ? v4Bytes(address) : v6Bytes(address);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.slice(i, i + 4);
    if (os.endianness() === 'LE') word.reverse();
    out += word.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
  }
  return out;
}

function v4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/** An IPv6 address's 16 bytes (`::` expanded, a dotted IPv4 tail as in `::ffff:127.0.0.1`). */
function v6Bytes(address: string): number[] {
  const plain = address.split('%')[0] ?? '';
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  const groups = (text: string): number[] => (text === '' ? [] : text.split(':').map((g) => parseInt(g, 16)));
  const head = tail ? plain.slice(0, tail.index + 1) : plain;
  const [before = '', after] = head.split('::');
  const left = groups(before.replace(/:$/, ''));
  const right = after === undefined ? [] : groups(after.replace(/:$/, ''));
  const v4 = tail ? v4Bytes(tail[1] ?? '') : [];
  const missing = 8 - left.length - right.length - v4.length / 2;
  const words = [...left, ...Array<number>(Math.max(0, missing)).fill(0), ...right];
  return [...words.flatMap((w) => [w >> 8, w & 0xff]), ...v4];
}
