// What listen() rejects with when a control listener cannot bind: Node's bare error named neither
// the listener nor, from an embedder's view, what to do.
import { FerryError, type FerryErrorCode } from '../errors.js';
import { addressFamily, addressKind } from '../protocol/address.js';

const KNOWN = new Map<string, { code: FerryErrorCode; why: (port: number) => string }>([
  [
    'EADDRINUSE',
    {
      code: 'ERR_ADDRESS_IN_USE',
      why: () => 'the address is in use (EADDRINUSE) by another program or server.',
    },
  ],
  [
    'EADDRNOTAVAIL',
    {
      code: 'ERR_ADDRESS_NOT_AVAILABLE',
      why: () => 'no interface of this machine has that address (EADDRNOTAVAIL).',
    },
  ],
  [
    'EACCES',
    {
      code: 'ERR_ADDRESS_DENIED',
      why: (port) =>
        port > 0 && port < 1024
          ? 'permission denied (EACCES): a port below 1024 needs root or CAP_NET_BIND_SERVICE.'
          : 'permission denied (EACCES).',
    },
  ],
]);

/**
 * A link-local IPv6 address (fe80::/10) names no interface by itself: every link has one of that
 * prefix, and the kernel refuses to guess (EINVAL).
 */
const UNZONED_LINK_LOCAL = {
  code: 'ERR_ADDRESS_NOT_AVAILABLE' as const,
  why: (host: string) =>
    `${host} is a link-local address, which needs its interface: write ${host}%eth0 (the interface's name, as \`ip -6 addr\` lists it) (EINVAL).`,
};

const unzonedLinkLocal = (host: string): boolean =>
  !host.includes('%') && addressFamily(host) === 6 && addressKind(host) === 'link-local';

/** `err` as a FerryError naming the listener (Node's error its cause); any other error as it is. */
export function listenError(err: unknown, host: string, port: number, implicit: boolean): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const known =
    code === 'EINVAL' && unzonedLinkLocal(host)
      ? { code: UNZONED_LINK_LOCAL.code, why: () => UNZONED_LINK_LOCAL.why(host) }
      : code === undefined
        ? undefined
        : KNOWN.get(code);
  if (!known) return err;
  const mode = implicit ? 'implicit' : 'explicit';
  return new FerryError(
    known.code,
    `Cannot listen on ${host} port ${port} (${mode} FTPS): ${known.why(port)}`,
    {
      cause: err,
    },
  );
}
