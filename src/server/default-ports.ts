import { readFileSync } from 'node:fs';
import { CAP_NET_BIND_SERVICE, hasEffectiveCapability } from './effective-capabilities.js';

/** What decides whether this process may bind the FTPS ports 21 and 990. */
export interface PortPrivileges {
  /** CAP_NET_BIND_SERVICE in effect: root's, or given by systemd's AmbientCapabilities=. */
  readonly netBindService: boolean;
  /** net.ipv4.ip_unprivileged_port_start: the lowest port anyone may bind (1024 by default). */
  readonly unprivilegedPortStart: number;
}

export interface DefaultPorts {
  readonly explicit: number;
  readonly implicit: number;
}

/** 21 and 990 when this process may bind them, else 2121 and 9990 (not whether it is root). */
export function defaultPortsFor(p: PortPrivileges): DefaultPorts {
  const low = p.netBindService || p.unprivilegedPortStart <= 21;
  return low ? { explicit: 21, implicit: 990 } : { explicit: 2121, implicit: 9990 };
}

/** This process's: its effective capabilities, and the sysctl of its network namespace. */
export function portPrivileges(): PortPrivileges {
  let start = 1024; // the classic rule, where the sysctl cannot be read (not Linux)
  try {
    const n = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    if (Number.isInteger(n)) start = n;
  } catch {
    // keep the classic rule
  }
  const cap = hasEffectiveCapability(CAP_NET_BIND_SERVICE) ?? process.getuid?.() === 0;
  return { netBindService: cap, unprivilegedPortStart: start };
}

export function defaultPorts(): DefaultPorts {
  return defaultPortsFor(portPrivileges());
}
