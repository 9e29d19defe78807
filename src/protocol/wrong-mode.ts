/**
 * A client that speaks the other port's protocol: an implicit-FTPS client on the explicit port (its
 * ClientHello where a command is expected), a plain-FTP or explicit-FTPS client on the implicit
 * port (a command, or nothing at all as it waits for a greeting, where a ClientHello is expected).
 * The log line names the mistake and the port the client should use, for the admin to pass on.
 */

import { TLS_HANDSHAKE_RECORD } from './tls-record.js';

const TLS_MAJOR = 0x03;

/** The ports the server listens on (undefined: that listener is off, or its port unknown). */
export interface ListeningPorts {
  readonly explicit?: number;
  readonly implicit?: number;
}

/** `bytes` start a TLS handshake record (a ClientHello): type 22, version 3.x. */
export function startsTlsHandshake(bytes: Uint8Array): boolean {
  return bytes[0] === TLS_HANDSHAKE_RECORD && (bytes.length < 2 || bytes[1] === TLS_MAJOR);
}

/** `bytes` start with an ASCII letter, as an FTP command does (`USER`, `AUTH`, `FEAT`). */
export function startsLikeCommand(bytes: Uint8Array): boolean {
  const b = bytes[0];
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

export function tlsOnExplicitPort(port: number | undefined, ports: ListeningPorts): string {
  const wants =
    ports.implicit === undefined
      ? 'implicit FTPS, which this server does not serve: it must use explicit FTPS (AUTH TLS)'
      : `implicit FTPS (port ${ports.implicit})`;
  return `TLS ClientHello on the explicit port${at(port)}: this client wants ${wants}; closing`;
}

export function plainOnImplicitPort(port: number | undefined, ports: ListeningPorts): string {
  return `plain FTP (no TLS) on the implicit port${at(port)}: ${useExplicit(ports)}`;
}

/** Nothing came: a plain-FTP or explicit-FTPS client waits for a greeting the implicit port never sends first. */
export function silentOnImplicitPort(
  port: number | undefined,
  ports: ListeningPorts,
  seconds: number,
): string {
  return `no TLS ClientHello on the implicit port${at(port)} within ${seconds} s: a plain FTP or explicit FTPS client waits here for a greeting that never comes; ${useExplicit(ports)}`;
}

function at(port: number | undefined): string {
  return port === undefined ? '' : ` ${port}`;
}

function useExplicit(ports: ListeningPorts): string {
  return ports.explicit === undefined
    ? 'this server has no explicit port, the client must use implicit FTPS (ftps://)'
    : `use the explicit port ${ports.explicit} with AUTH TLS`;
}
