import { isIPv4, isIPv6 } from 'node:net';
import { normalizeAddress } from './address.js';

/**
 * The PROXY protocol header a load balancer (HAProxy's `send-proxy`, `send-proxy-v2`) sends before
 * the client's bytes, version 1 (text) and 2 (binary), as HAProxy's spec defines them
 * (doc/proxy-protocol.txt). Pure: bytes in, a value out; reading them off a socket is the server's.
 */

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * The client's and the address it connected to; undefined when the proxy speaks for itself
   * (v2 LOCAL, its health checks) or does not know them (v1 UNKNOWN, v2 UNSPEC or UNIX): the
   * connection's own addresses then hold.
   */
  readonly source: ProxyEndpoint | undefined;
  readonly destination: ProxyEndpoint | undefined;
}

export type ProxyParse =
  /** A whole header, `length` bytes long; what follows it is the client's. */
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly length: number }
  /** A prefix of a header, or of its signature: read more (up to MAX_PROXY_HEADER_BYTES). */
  | { readonly kind: 'incomplete' }
  /** The bytes do not start with a PROXY signature. */
  | { readonly kind: 'none' }
  /** A PROXY signature followed by something the spec does not allow, or too long. */
  | { readonly kind: 'invalid'; readonly reason: string };

/** v1: "PROXY " … CRLF, 107 bytes at most (the spec's bound). */
export const MAX_V1_BYTES = 107;
/**
 * v2: 16 bytes and the announced length. The spec allows 65535; addresses take at most 216 (UNIX)
 * and the TLVs proxies add (ALPN, SNI, TLS details, AWS/Azure ids) a few hundred: larger is refused.
 */
export const MAX_V2_PAYLOAD = 1024;
export const MAX_PROXY_HEADER_BYTES = 16 + MAX_V2_PAYLOAD;

const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Reads a header at the start of `bytes`. */
export function parseProxyHeader(bytes: Buffer): ProxyParse {
  const v1 = signature(bytes, V1_SIGNATURE);
  if (v1 === 'match') return parseV1(bytes);
  const v2 = signature(bytes, V2_SIGNATURE);
  if (v2 === 'match') return parseV2(bytes);
  return v1 === 'prefix' || v2 === 'prefix' ? { kind: 'incomplete' } : { kind: 'none' };
}

/**
 * Whether `bytes` start with a whole PROXY signature ('yes'), cannot ('no'), or are too short to
 * tell ('maybe'): what a peer that is not a trusted proxy may not send.
 */
export function proxySignature(bytes: Buffer): 'yes' | 'no' | 'maybe' {
  const states = [signature(bytes, V1_SIGNATURE), signature(bytes, V2_SIGNATURE)];
  if (states.includes('match')) return 'yes';
  return states.includes('prefix') ? 'maybe' : 'no';
}

function signature(bytes: Buffer, sig: Buffer): 'match' | 'prefix' | 'no' {
  const n = Math.min(bytes.length, sig.length);
  if (!bytes.subarray(0, n).equals(sig.subarray(0, n))) return 'no';
  return n === sig.length ? 'match' : 'prefix';
}

const invalid = (reason: string): ProxyParse => ({ kind: 'invalid', reason });

function parseV1(bytes: Buffer): ProxyParse {
  const window = bytes.subarray(0, MAX_V1_BYTES);
  const end = window.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (window.length >= MAX_V1_BYTES) return invalid(`v1 header longer than ${MAX_V1_BYTES} bytes`);
    // Anything but printable ASCII before the CRLF can never become a header: say so at once.
    return /^[\x20-\x7e]*\r?$/.test(window.toString('latin1'))
      ? { kind: 'incomplete' }
      : invalid('v1 header with a byte that is not printable ASCII');
  }
  const line = window.toString('latin1', 0, end);
  const length = end + 2;
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return header(1, undefined, undefined, length);
  if (parts.length !== 6) return invalid('v1 header needs PROXY, protocol, 2 addresses and 2 ports');
  const [, proto, src = '', dst = '', sport = '', dport = ''] = parts;
  const isFamily = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : undefined;
  if (!isFamily) return invalid(`v1 protocol "${proto}" is not TCP4, TCP6 or UNKNOWN`);
  if (!isFamily(src) || !isFamily(dst)) return invalid(`v1 address is not ${proto}`);
  const sourcePort = port(sport);
  const destinationPort = port(dport);
  if (sourcePort === undefined || destinationPort === undefined) return invalid('v1 port is not 0-65535');
  return header(
    1,
    { address: normalizeAddress(src), port: sourcePort },
    { address: normalizeAddress(dst), port: destinationPort },
    length,
  );
}

function port(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function parseV2(bytes: Buffer): ProxyParse {
  if (bytes.length < 16) return { kind: 'incomplete' };
  const versionCommand = bytes[12] ?? 0;
  const familyTransport = bytes[13] ?? 0;
  const payload = bytes.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return invalid(`v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 command ${command} is neither LOCAL nor PROXY`);
  if (payload > MAX_V2_PAYLOAD) return invalid(`v2 header of ${payload} bytes (at most ${MAX_V2_PAYLOAD})`);
  const length = 16 + payload;
  if (bytes.length < length) return { kind: 'incomplete' };
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3 || transport > 2) return invalid(`v2 family/transport 0x${familyTransport.toString(16)}`);
  // LOCAL: the proxy's own connection (a health check); its addresses are the connection's.
  if (command === 0 || family === 0 || family === 3) return header(2, undefined, undefined, length);
  if (transport !== 1) return invalid('v2 header for a transport that is not a stream');
  const block = bytes.subarray(16, length);
  const size = family === 1 ? 4 : 16;
  if (block.length < 2 * size + 4) return invalid('v2 address block shorter than its family needs');
  const text = family === 1 ? ipv4 : ipv6;
  return header(
    2,
    { address: text(block.subarray(0, size)), port: block.readUInt16BE(2 * size) },
    { address: text(block.subarray(size, 2 * size)), port: block.readUInt16BE(2 * size + 2) },
    length,
  );
}

const ipv4 = (b: Buffer): string => [...b].join('.');

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return normalizeAddress(groups.join(':'));
}

function header(
  version: 1 | 2,
  source: ProxyEndpoint | undefined,
  destination: ProxyEndpoint | undefined,
  length: number,
): ProxyParse {
  return { kind: 'header', header: { version, source, destination }, length };
}

/** A v1 header (tests and tools that stand in for a proxy). */
export function formatProxyV1(source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  const proto = isIPv4(source.address) ? 'TCP4' : 'TCP6';
  return Buffer.from(
    `PROXY ${proto} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`,
    'latin1',
  );
}
