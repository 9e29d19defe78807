import type * as net from 'node:net';
import { normalizeAddress } from '../protocol/address.js';
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader } from '../protocol/proxy-protocol.js';
import { NetworkList } from './networks.js';

/** `proxyProtocol` as resolved: who may send a PROXY header, and whether it must. */
export interface ProxySettings {
  readonly trusted: readonly string[];
  readonly required: boolean;
  readonly headerTimeoutMs: number;
}

/** Who is on the other end of an accepted connection, with the PROXY header taken into account. */
export interface ClientOrigin {
  /** The client's address: the socket's peer, or the header's source. */
  readonly address: string;
  /** The header's source port (else the socket's peer port is the client's). */
  readonly port?: number;
  /** The address the client connected to, as it sees it: the socket's local address, or the header's destination. */
  readonly arrivedOn: string;
  /** Through a trusted proxy that sent a header. */
  readonly proxied: boolean;
  /**
   * Not a trusted proxy while PROXY protocol is on: the session refuses the connection if its
   * first bytes turn out to be a PROXY header (on explicit FTPS the client speaks only after the
   * greeting, so they cannot be awaited before it).
   */
  readonly screen: boolean;
  /**
   * A trusted proxy speaking for itself (no header, or v2 LOCAL, UNSPEC or UNIX): `address` is the
   * proxy's, shared by every client that comes this way, so it cannot vouch for a PORT target.
   */
  readonly proxySelf?: boolean;
}

/**
 * The socket's peer, normalized; undefined when it cannot be read (the connection was reset before
 * it was accepted): such a socket is dropped at once, unlogged and unscored, never counted as "".
 * Read once, Node keeps it: later reads of `remoteAddress` give the same.
 */
export function peerAddress(socket: net.Socket): string | undefined {
  const from = socket.remoteAddress;
  return from === undefined ? undefined : normalizeAddress(from);
}

export type EdgeOutcome =
  /** `rest`: bytes read past the header, the client's; they must reach the session first. */
  | { readonly ok: true; readonly origin: ClientOrigin; readonly rest: Buffer }
  | { readonly ok: false; readonly from: string; readonly why: string };

/**
 * A trusted peer that sends no header while one is optional (`required: false`, for a migration
 * where clients still connect directly too): a proxy writes its header as soon as it connects, so
 * after this long without a byte the peer is taken to be a client waiting for the server (explicit
 * FTPS's greeting, a clear download's data).
 */
const OPTIONAL_HEADER_WAIT_MS = 300;

/**
 * The PROXY protocol at the edge of every listener (control, implicit, passive data): reads the
 * header that a trusted proxy sends, with a timeout and a byte cap, and refuses what the settings
 * forbid. Without settings every connection is taken as it is, unread.
 */
export class ProxyEdge {
  private trusted: NetworkList | undefined;

  constructor(private settings: ProxySettings | undefined) {
    this.trusted = settings ? new NetworkList(settings.trusted) : undefined;
  }

  /**
   * New settings (a reload): connections accepted from now on follow them. A proxy the operator
   * took off the list must stop speaking for clients at once, not at the next restart.
   */
  configure(settings: ProxySettings | undefined): void {
    this.settings = settings;
    this.trusted = settings ? new NetworkList(settings.trusted) : undefined;
  }

  get enabled(): boolean {
    return this.trusted !== undefined;
  }

  /**
   * `accept` for a listener: `pending` holds the socket while its header is read (its owner
   * destroys what is left there at close); a refused socket is reported to `refused` and
   * destroyed, an accepted one handed to `then` with its client and the bytes read past the header.
   * `from`: the socket's peerAddress().
   */
  pass(
    socket: net.Socket,
    from: string,
    pending: Set<net.Socket>,
    refused: (from: string, why: string) => void,
    then: (origin: ClientOrigin, rest: Buffer) => void,
  ): void {
    pending.add(socket);
    void this.accept(socket, from).then((r) => {
      pending.delete(socket);
      if (r.ok) return then(r.origin, r.rest);
      refused(r.from, r.why);
      socket.destroy();
    });
  }

  /**
   * Decides who `socket` speaks for: a trusted proxy's header is read here; anyone else's socket
   * is left unread (admission comes before any byte is read) and screened by the session.
   * `from`: the socket's peerAddress().
   */
  async accept(socket: net.Socket, from: string): Promise<EdgeOutcome> {
    const own: ClientOrigin = {
      address: from,
      arrivedOn: normalizeAddress(socket.localAddress ?? ''),
      proxied: false,
      screen: this.enabled,
    };
    const settings = this.settings;
    if (!settings || !this.trusted) return { ok: true, origin: own, rest: Buffer.alloc(0) };
    // Not a trusted proxy: served as it is; its first bytes are screened by the session.
    if (!this.trusted.contains(from)) return { ok: true, origin: own, rest: Buffer.alloc(0) };
    const trusted = { ...own, screen: false, proxySelf: true };
    const wait = settings.required ? settings.headerTimeoutMs : OPTIONAL_HEADER_WAIT_MS;
    const read = await readUntil(socket, wait, (b) => parseProxyHeader(b).kind !== 'incomplete');
    if (read.closed) return { ok: false, from, why: 'closed before its PROXY header' };
    const parsed = parseProxyHeader(read.bytes);
    switch (parsed.kind) {
      case 'header': {
        const { source, destination } = parsed.header;
        const origin: ClientOrigin = source
          ? {
              address: source.address,
              port: source.port,
              arrivedOn: destination?.address ?? own.arrivedOn,
              proxied: true,
              screen: false,
            }
          : trusted; // LOCAL or UNKNOWN: the proxy speaks for itself (a health check)
        return { ok: true, origin, rest: read.bytes.subarray(parsed.length) };
      }
      case 'invalid':
        return { ok: false, from, why: `invalid PROXY header: ${parsed.reason}` };
      case 'incomplete':
        if (read.bytes.length > 0 || settings.required)
          return { ok: false, from, why: 'no complete PROXY header in time' };
        return { ok: true, origin: trusted, rest: read.bytes };
      case 'none':
        if (settings.required)
          return { ok: false, from, why: 'no PROXY header from a trusted proxy (required)' };
        return { ok: true, origin: trusted, rest: read.bytes };
    }
  }
}

const untrusted = 'PROXY header from an address that is not a trusted proxy';

/** Log text for a connection whose first bytes were a PROXY header it may not send. */
export const UNTRUSTED_PROXY_HEADER = untrusted;

/**
 * Log text for a PROXY header on a listener without `proxyProtocol`: a balancer configured to send
 * one (HAProxy's send-proxy) to a node that is not, the likeliest misconfiguration. Without it the
 * client saw only "500 Empty command." (explicit) or a TLS failure (implicit).
 */
export const UNCONFIGURED_PROXY_HEADER =
  'a PROXY protocol header arrived but proxyProtocol is not configured for this listener (set proxyProtocol.trusted to the balancer’s address, or stop it sending one)';

/**
 * Reads `socket` in paused mode until `done(bytes)`, MAX_PROXY_HEADER_BYTES, `ms` or close. Leaves
 * the bytes with the caller (nothing is put back); what arrived after them stays in the socket.
 */
function readUntil(
  socket: net.Socket,
  ms: number,
  done: (bytes: Buffer) => boolean,
): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      resolve({ bytes, closed });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        bytes = Buffer.concat([bytes, chunk]);
        if (done(bytes) || bytes.length >= MAX_PROXY_HEADER_BYTES) return finish(false);
      }
    };
    const onClose = (): void => finish(true);
    const timer = setTimeout(() => finish(false), ms);
    socket.on('readable', onReadable);
    socket.once('close', onClose);
  });
}
