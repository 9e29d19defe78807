import { addressFamily, addressKind, normalizeAddress } from './address.js';

/** Where an active-mode (PORT/EPRT) data connection goes, and the address it leaves from. */
export interface ActiveRoute {
  readonly host: string;
  /** Bound before connecting; none: the kernel's choice (its route's primary address). */
  readonly localAddress?: string;
}

/** The control connection an active data connection follows. */
export interface ControlEnds {
  /** The control connection's peer, with its zone when link-local (`fe80::1%eth0`). */
  readonly peer: string;
  /**
   * This server's end of it, the address the client connected to; none behind a PROXY-protocol
   * proxy, whose connection to us says nothing of the route to the client.
   */
  readonly local?: string;
}

const zoneOf = (addr: string): string => (addr.includes('%') ? addr.slice(addr.indexOf('%')) : '');
const bare = (addr: string): string => (addr.includes('%') ? addr.slice(0, addr.indexOf('%')) : addr);
const linkLocal6 = (addr: string): boolean => addressFamily(addr) === 6 && addressKind(addr) === 'link-local';

/**
 * The route of an active data connection to `host` (already checked to be the control peer).
 * It leaves from the control connection's own address, as vsftpd and ProFTPD do: a server on a
 * secondary or floating (keepalived) address would otherwise connect from the primary, which the
 * client's firewall does not know. IPv4-mapped forms become IPv4 so that both ends are of one
 * family. A link-local address names no interface by itself: it takes the control peer's zone,
 * only when the peer is that same link-local address (an EPRT cannot carry a zone).
 */
export function activeRoute(host: string, control: ControlEnds): ActiveRoute {
  const target = normalizeAddress(host);
  const peer = normalizeAddress(control.peer);
  const family = addressFamily(target);
  const scoped =
    linkLocal6(target) && zoneOf(peer) !== '' && bare(target) === bare(peer)
      ? bare(target) + zoneOf(peer)
      : target;
  if (control.local === undefined || family === undefined) return { host: scoped };
  const local = normalizeAddress(control.local);
  if (addressFamily(local) !== family) return { host: scoped };
  // Our own link-local end, if reported without its zone, is on the peer's link.
  const from = linkLocal6(local) && zoneOf(local) === '' ? local + zoneOf(scoped) : local;
  return { host: scoped, localAddress: from };
}
