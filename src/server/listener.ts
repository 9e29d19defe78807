import * as net from 'node:net';
import type { Logger } from '../logger.js';
import { outOfDescriptors, warnOutOfDescriptors } from './descriptors.js';
import { listenError } from './listen-error.js';
import type { WarningLimiter } from './warning-limiter.js';

export interface ControlListener {
  readonly server: net.Server;
  readonly address: net.AddressInfo;
}

/**
 * A control-connection listener on host:port, logged. '::' means "IPv6 and IPv4"; on a host
 * without IPv6 it falls back to IPv4 only. `pauseOnConnect`: accepted sockets read nothing until
 * resumed (or handed to another process).
 */
export async function openListener(
  where: {
    host: string;
    port: number;
    implicit: boolean;
    logger: Logger;
    pauseOnConnect?: boolean;
    /** '::' without IPv4 (another listener takes an IPv4 address). */
    ipv6Only?: boolean;
    /** Rate-limits the accept failures of a server out of descriptors. */
    warnings?: WarningLimiter;
  },
  onSocket: (socket: net.Socket) => void,
): Promise<ControlListener> {
  const { host, port, logger } = where;
  const server = net.createServer({ noDelay: true, pauseOnConnect: where.pauseOnConnect }, onSocket);
  try {
    await listenOn(server, host, port, where.ipv6Only).catch((err: NodeJS.ErrnoException) => {
      if (host !== '::' || err.code !== 'EAFNOSUPPORT') throw err;
      return listenOn(server, '0.0.0.0', port);
    });
  } catch (err) {
    throw listenError(err, host, port, where.implicit);
  }
  server.on('error', (err) => {
    // libuv closes what it cannot accept (the client sees EOF) and often says nothing; when it
    // does, it says it for every connection.
    if (outOfDescriptors(err)) warnOutOfDescriptors(logger, where.warnings, 'accept', { port });
    else logger.error({ err: err.message }, 'listener error');
  });
  const address = server.address() as net.AddressInfo;
  logger.info(
    { address: address.address, port: address.port, mode: where.implicit ? 'implicit' : 'explicit' },
    'listening',
  );
  return { server, address };
}

/**
 * Control-connection listeners on each of `host`'s addresses, all on one port (port 0: the port
 * the first was given). '::' takes IPv4 too (dual stack): given with an IPv4 address (`0.0.0.0`
 * and `::`), it takes IPv6 only, else the IPv4 address would find its port taken.
 */
export async function openListeners(
  where: Omit<Parameters<typeof openListener>[0], 'host' | 'ipv6Only'> & { host: string | readonly string[] },
  onSocket: (socket: net.Socket) => void,
): Promise<ControlListener[]> {
  const hosts = typeof where.host === 'string' ? [where.host] : where.host;
  const ipv6Only = hosts.includes('::') && hosts.some((h) => net.isIPv4(h));
  const opened: ControlListener[] = [];
  try {
    for (const host of hosts) {
      const port = opened[0]?.address.port ?? where.port;
      opened.push(
        await openListener({ ...where, host, port, ipv6Only: ipv6Only && host === '::' }, onSocket),
      );
    }
  } catch (err) {
    for (const l of opened) l.server.close();
    throw err;
  }
  return opened;
}

function listenOn(server: net.Server, host: string, port: number, ipv6Only = false): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
