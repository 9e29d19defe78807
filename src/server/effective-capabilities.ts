import { readFileSync } from 'node:fs';

/** Capability numbers (linux/capability.h) that Ferry asks about. */
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_SYS_RESOURCE = 24;

/**
 * Whether this process has capability `bit` in its effective set (CapEff in /proc/self/status):
 * root normally has them all, a container may drop some, and systemd's AmbientCapabilities= gives
 * some to a user that is not root. Undefined where /proc cannot tell (not Linux).
 */
export function hasEffectiveCapability(bit: number): boolean | undefined {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^CapEff:\s+([0-9a-f]+)/m.exec(status);
  return m?.[1] !== undefined && (BigInt(`0x${m[1]}`) & (1n << BigInt(bit))) !== 0n;
}
