import * as net from 'node:net';
import { addAllowed } from '../defender/defender.js';
import { normalizeAddress } from '../protocol/address.js';

/** A list of networks (CIDR, or single addresses) that an address is looked up in. */
export class NetworkList {
  private readonly list = new net.BlockList();

  /** Throws ERR_INVALID_OPTION naming a network that is not one (options are validated before). */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) addAllowed(this.list, cidr);
  }

  contains(address: string): boolean {
    const a = normalizeAddress(address);
    const pct = a.indexOf('%');
    const ip = pct >= 0 ? a.slice(0, pct) : a;
    const family = net.isIP(ip);
    return family !== 0 && this.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }
}
