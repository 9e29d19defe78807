import * as net from 'node:net';
import { FerryError, ReplyError } from '../errors.js';
import {
  addressFamily,
  formatEprtArg,
  formatPortArg,
  normalizeAddress,
  parseEpsvReply,
  parsePasvReply,
  sameHost,
} from '../protocol/address.js';
import { Code } from '../protocol/codes.js';
import { isPermanentNegative, isPositiveCompletion, replyLine, type Reply } from '../protocol/reply.js';
import { connectTcp, type ClientControlConnection } from './control.js';
import { giveUp } from './data-reset.js';
import {
  abortedError,
  ActiveConnectError,
  ActiveTimeoutError,
  dataConnectionError,
  Ipv6DataModeError,
} from './errors.js';

/**
 * Opening a data connection's TCP side: passive (EPSV first, PASV as fallback; a PASV address
 * other than the control host's is replaced by the control host) or active (EPRT, PORT as
 * fallback; only the server we talk to may connect).
 */

/** What a connection learned about the server's data commands (shared by its transfers). */
export interface DataState {
  /** EPSV is not sent: the server refused it, or the caller disabled it (disableEpsv). */
  noEpsv: 'refused' | 'disabled' | undefined;
  eprtRefused: boolean;
}

/**
 * A data endpoint: the TCP connection, as soon as it exists. Once a TLS socket runs on it, the
 * transfer gives that up first (data-reset.ts): close() and reset() then find it closed.
 */
export interface Endpoint {
  /** Resolves with the connected socket (active: once the server has connected). */
  readonly connected: Promise<net.Socket>;
  /** Active mode: where this client waits for the server, and what it refused meanwhile. */
  readonly active?: ActiveListen;
  close(): void;
  /**
   * Gives the connection up before its data is through (an abort): a TCP reset, never a FIN
   * (data-reset.ts), and a server that has not connected yet (active mode) finds nobody listening.
   */
  reset(): void;
}

/** An active-mode endpoint's listener, for what a failure says. */
export interface ActiveListen {
  /** `address:port` sent with EPRT/PORT. */
  readonly at: string;
  /** The server's address: the only one a data connection is taken from. */
  readonly server: string;
  /** Sources of the connections refused, not being the server's (the first few). */
  readonly refused: readonly string[];
  /** The server's connection came. */
  readonly accepted: boolean;
}

export async function openPassive(
  control: ClientControlConnection,
  state: DataState,
  connectTimeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Endpoint> {
  const host = control.remoteAddress;
  let port: number | undefined;
  if (!state.noEpsv) {
    const r = await control.request('EPSV');
    if (r.code === Code.EnteringExtendedPassive) {
      port = parseEpsvReply(replyLine(r));
      if (port === undefined)
        throw new FerryError('ERR_PROTOCOL', `Cannot read the port in: ${r.code} ${replyLine(r)}`);
    } else if (isPermanentNegative(r)) {
      state.noEpsv = 'refused';
      control.info('EPSV refused; using PASV from now on.');
    } else {
      throw new ReplyError(r.code, replyLine(r), 'EPSV');
    }
  }
  if (port === undefined) {
    if (addressFamily(host) === 6)
      throw new Ipv6DataModeError(
        state.noEpsv === 'disabled'
          ? 'EPSV is disabled (--disable-epsv), and PASV cannot work over IPv6: leave EPSV on for this server.'
          : 'The server refused EPSV, and PASV cannot work over IPv6: use active mode (--active), which works where the server can connect to this client.',
      );
    const r = await control.request('PASV');
    if (r.code !== Code.EnteringPassive) throw new ReplyError(r.code, replyLine(r), 'PASV');
    const hp = parsePasvReply(replyLine(r));
    if (!hp) throw new FerryError('ERR_PROTOCOL', `Cannot read the address in: ${r.code} ${replyLine(r)}`);
    if (!sameHost(hp.host, host)) {
      control.info(`PASV offered ${hp.host}; connecting to the control host ${host} instead.`);
    }
    port = hp.port;
  }
  let socket: net.Socket;
  try {
    socket = await connectTcp(
      host,
      port,
      connectTimeoutMs,
      signal,
      `Cannot open the data connection to ${host}:${port}`,
    );
  } catch (err) {
    // The transfer's signal: a transfer aborted, not a connection.
    if (err instanceof FerryError && err.code === 'ERR_ABORTED') throw abortedError(signal);
    throw dataConnectionError(err instanceof Error ? err.message : String(err), err);
  }
  socket.on('error', () => {});
  return {
    connected: Promise.resolve(socket),
    close: () => socket.destroy(),
    reset: () => giveUp(socket, socket),
  };
}

export async function openActive(
  control: ClientControlConnection,
  state: DataState,
  connectTimeoutMs: number,
): Promise<Endpoint> {
  const local = control.localAddress;
  const server = net.createServer();
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, local, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let accepted: net.Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let fail: (err: Error) => void = () => {};
  const refused: string[] = [];
  const listen = {
    at:
      addressFamily(local) === 6
        ? `[${normalizeAddress(local)}]:${port}`
        : `${normalizeAddress(local)}:${port}`,
    server: normalizeAddress(control.remoteAddress),
    refused,
    accepted: false,
  };
  // Listening before EPRT/PORT: some servers (pyftpdlib) connect as soon as they get the address.
  const connected = new Promise<net.Socket>((resolve, reject) => {
    fail = reject;
    server.on('connection', (sock: net.Socket) => {
      sock.on('error', () => {});
      // Only the server we talk to may connect (no data connection theft).
      const from = normalizeAddress(sock.remoteAddress ?? '?');
      if (accepted || !sameHost(from, listen.server)) {
        if (!accepted && refused.length < 3) refused.push(from);
        control.info(
          accepted
            ? `Refused a second data connection, from ${from}.`
            : `Refused a data connection from ${from}: not the server's address ${listen.server} (active mode takes only the server's).`,
        );
        sock.destroy();
        return;
      }
      accepted = sock;
      listen.accepted = true;
      clearTimeout(timer);
      server.close();
      resolve(sock);
    });
  });
  connected.catch(() => {});
  const close = (): void => {
    clearTimeout(timer);
    server.close();
    accepted?.destroy();
    fail(dataConnectionError('Data connection closed.'));
  };
  try {
    let ok = false;
    if (!state.eprtRefused) {
      const r = await control.request(`EPRT ${formatEprtArg(local, port)}`);
      if (isPositiveCompletion(r)) ok = true;
      else if (r.code === Code.SyntaxError || r.code === Code.NotImplemented) {
        // Only a server without EPRT (RFC 2428: 500/502) gets PORT; any other refusal is of the
        // address or port, which PORT would send again.
        state.eprtRefused = true;
        control.info('EPRT not supported; using PORT from now on.');
      } else throw activeRefused(r, 'EPRT', local);
    }
    if (!ok) {
      if (addressFamily(local) === 6)
        throw new Ipv6DataModeError(
          'The server refused EPRT, and PORT cannot work over IPv6: use passive mode, without --active.',
        );
      const r = await control.request(`PORT ${formatPortArg(local, port)}`);
      if (!isPositiveCompletion(r)) throw activeRefused(r, 'PORT', local);
    }
  } catch (err) {
    close();
    throw err;
  }
  if (!accepted) {
    timer = setTimeout(() => {
      server.close();
      fail(
        new ActiveTimeoutError(
          `The server neither connected to ${listen.at} nor answered within ${connectTimeoutMs} ms (${activeHint(listen)}).`,
        ),
      );
    }, connectTimeoutMs);
  }
  const reset = (): void => {
    if (accepted) giveUp(accepted, accepted);
    close();
  };
  return { connected, close, reset, active: listen };
}

/**
 * What an active-mode transfer's failure before the server connected says: the connections refused
 * (not from the server), and that passive mode works where the server cannot reach this client.
 */
export function activeHint(listen: ActiveListen): string {
  const refused =
    listen.refused.length === 0
      ? `it did not reach this client at ${listen.at}`
      : `a connection came from ${listen.refused.join(', ')}, not the server's address ${listen.server}: refused`;
  return `active mode: ${refused}; behind NAT or a firewall? use passive mode, without --active`;
}

/**
 * The final reply to an active-mode transfer command, come before the server connected: a 425
 * (it could not connect) as ActiveConnectError, with what happened and what to do; any other
 * failure as its reply says.
 */
export function activeFailure(r: Reply, command: string, listen: ActiveListen): ReplyError {
  if (r.code === Code.CantOpenData) return new ActiveConnectError(r, command, activeHint(listen));
  return new ReplyError(r.code, replyLine(r), command);
}

/**
 * A refused EPRT/PORT: the server's reply and, for a 5xx (Ferry 504, vsftpd and ProFTPD 500 to an
 * address that is not the control connection's peer), what usually causes it: the client is
 * behind NAT, so the server sees another address than the one sent. Passive mode works there.
 */
function activeRefused(r: Reply, command: 'EPRT' | 'PORT', local: string): ReplyError {
  if (!isPermanentNegative(r)) return new ReplyError(r.code, replyLine(r), command);
  return new ReplyError(
    r.code,
    `${replyLine(r)} (the server will not connect to ${local}, this client's address as it sees it: behind NAT? use passive mode, without --active)`,
    command,
  );
}
