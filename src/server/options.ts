import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import * as z from 'zod';
import { reportedIssue } from '../zod-issues.js';
import type { Authenticator, Principal } from '../auth/types.js';
import {
  addAllowed,
  DEFAULT_DEFENDER,
  type DefenderEvent,
  type DefenderSettings,
} from '../defender/defender.js';
import type { SharedBans } from '../defender/shared-bans.js';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { StorageBackend } from '../storage/types.js';
import type { Registry } from 'prom-client';
import type { TransferOutcome } from './transfers.js';
import type { SharedCutUploads } from '../shared-cut-uploads.js';
import { LEGACY_ENCODINGS, LegacyCharset, type LegacyEncoding } from '../protocol/legacy-encoding.js';
import { toIPv4 } from '../protocol/address.js';
import { parseNat64Prefix } from '../protocol/nat64.js';

/** One finished file transfer as the transfer log (xferlog) records it. */
export interface TransferRecord extends TransferOutcome {
  /** When it ended. */
  readonly at: Date;
  readonly user: string;
  /** An anonymous FTP session (xferlog's access mode `a`). */
  readonly anonymous?: boolean;
  readonly remoteAddress: string;
  /** TYPE A (ASCII) or I (binary). */
  readonly type: 'A' | 'I';
  readonly sessionId: string;
}
import { DEFAULT_COMMAND_RATE } from './command-budget.js';
import { defaultPorts } from './default-ports.js';
import { NetworkList } from './networks.js';
import type { ProxySettings } from './proxy-edge.js';

/** One listener: `port: 0` picks an ephemeral port (tests); `false` switches the listener off. */
export interface ListenerOptions {
  /** One address, or several: each gets a socket on the port ('::' with an IPv4 one: IPv6 only). */
  host: string | readonly string[];
  port: number;
}

export interface ServerOptions {
  /**
   * Explicit FTPS (AUTH TLS) listener. Left out: off when `implicit` is given; when neither is
   * given, on `::` port 21 (2121 when this process cannot bind it: not root, no CAP_NET_BIND_SERVICE).
   */
  explicit?: ListenerOptions | false;
  /**
   * Implicit FTPS (TLS first) listener. Left out: off when `explicit` is given; when neither is
   * given, on `::` port 990 (9990 when this process cannot bind it).
   */
  implicit?: ListenerOptions | false;
  authenticator: Authenticator;
  /** Bans shared with other nodes (the database); without it, the bans file in dataDir. */
  sharedBans?: SharedBans;
  /** The storage a logged-in principal works in. */
  storageFor: (principal: Principal) => StorageBackend;
  tls?: {
    certificates?: { certFile: string; keyFile: string }[];
    /** Where a generated self-signed certificate is kept. */
    dataDir?: string;
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    /**
     * OpenSSL's cipher list for TLS 1.2 and older, TLS 1.3 suites (`TLS_AES_256_GCM_SHA384`) named in
     * it too (Node splits them), in the order the server prefers; default tls/cipher-policy.ts's.
     * Checked when the options are.
     */
    ciphers?: string;
    /** Data connections must resume the control connection's TLS session (vsftpd's require_ssl_reuse). */
    requireSessionReuse?: boolean;
    /**
     * Whose sessions a data connection may resume: its own control connection's ('connection', the
     * default), or also those of the same user's other control connections from the same address
     * ('user': clients such as rclone share one TLS session cache between their connections).
     */
    sessionReuseScope?: 'connection' | 'user';
    /**
     * PEM files of CAs whose client certificates identify users (by CN = user name, for accounts
     * that use certificate login); pinned fingerprints need no CA. See the README's Accounts.
     */
    clientCaFiles?: string[];
    /** PEM files of CRLs for those CAs (each file one or more); OpenSSL refuses what they revoke. */
    clientCrlFiles?: string[];
  };
  /** Allow PROT C (data in clear). */
  /**
   * Where the file versions left by cut uploads are remembered, so that every process of this node
   * refuses a resume onto one (`ferry serve`: <dataDir>/cut-uploads.json); without it, this process alone.
   */
  cutUploadsFile?: string;
  /** Those records shared with other nodes as well (the database): a resume on any node is refused. */
  sharedCutUploads?: SharedCutUploads;
  allowClearData?: boolean;
  /** Allow login and commands without TLS on the explicit port. */
  allowPlainControl?: boolean;
  /** Allow CCC (control connection back to clear after login). */
  allowCcc?: boolean;
  /**
   * Names no one may see or use (vsftpd's deny_file): shell patterns for one name, `*.exe`,
   * `.ht*`. A path any of whose names matches cannot be read, created, renamed, removed, entered or
   * listed (553 for STOR, APPE, MKD, RNTO; 550 otherwise). Added to a principal's own `denyFiles`.
   */
  denyFiles?: string[];
  /** `denyFiles` match whatever the case (`*.exe` denies `A.EXE`). */
  denyFilesIgnoreCase?: boolean;
  /**
   * LIST, NLST and STAT leave out names starting with `.` unless asked with `-a` (vsftpd's default,
   * force_dot_files=NO); MLSD lists everything (RFC 3659). A principal's own `hideDotFiles` wins.
   */
  hideDotFiles?: boolean;
  /**
   * For clients that cannot send UTF-8 (old Windows and mainframe tools): a command line that is
   * not UTF-8 is read in this single-byte set rather than refused (501); names are stored in UTF-8.
   * A session that sent one (and not OPTS UTF8 ON) gets its replies and listings in this set. Off
   * unless set (RFC 2640: UTF-8 only). README, "Old clients and non-UTF-8 names".
   */
  legacyEncoding?: LegacyEncoding;
  passive?: {
    portMin?: number;
    portMax?: number;
    /**
     * The address PASV announces: one for everyone, or one per client network (the first rule
     * whose network holds the client's address; a plain address in the list is the default).
     * Unset, or no rule for the client: the address the control connection arrived on. An
     * address may be a host name (dynamic DNS behind NAT): its IPv4 address is looked up before
     * serving (a name that does not resolve fails listen()), at each reconfigure() and every 5
     * minutes; a lookup that fails then keeps the last address (and warns once).
     */
    address?: string | PassiveAddressRule[];
  };
  /**
   * PROXY protocol (v1 and v2) from load balancers in `trusted` networks: they send the client's
   * address before its bytes, on control and passive data connections. Others may not send one.
   */
  proxyProtocol?: {
    trusted: string[];
    /** A connection from a trusted network without a header is refused (default true). */
    required?: boolean;
    /** How long a trusted peer has to send its header (default 5 s). */
    headerTimeoutMs?: number;
  };
  /** In milliseconds, each at most 2^31-1 (about 24.8 days: the longest a Node.js timer waits). */
  timeouts?: {
    idleMs?: number;
    dataConnectMs?: number;
    handshakeMs?: number;
    dataIdleMs?: number;
    closeGraceMs?: number;
    /** A client whose unsent replies stay above the output bound this long is disconnected. */
    stalledOutputMs?: number;
    /** From accept to a successful login (230); then 421 and close, whatever the client sends. */
    loginMs?: number;
    /**
     * A command without a data connection (MKD, DELE, RNTO, SIZE, ...) that has not finished in this
     * long ends the session with 421 (default 300 s): a storage call that never answers would
     * otherwise hold the session, its STAT, ABOR and QUIT included. HASH and SIZE in TYPE A go on
     * while they read, a storage call while it reports steps (StorageContext.progress: a listing, a
     * quota scan, an upload waiting for another of the same file, an S3 rename). The call itself is
     * never aborted by it: it is left to finish.
     */
    commandMs?: number;
    /**
     * A control connection's first TCP keepalive probe after this long without traffic (default
     * 60 s; whole seconds, 1 s to 32767 s). Tests shorten it; Node then probes every 1 s, 10 times.
     */
    keepaliveMs?: number;
  };
  limits?: {
    maxSessions?: number;
    maxSessionsPerAddress?: number;
    maxLoginFailures?: number;
    /** Connections not yet logged in, per address; more are refused (and scored). */
    maxUnauthenticatedPerAddress?: number;
    /** Passive endpoints listening and not yet connected, per client address and per user. */
    maxPassivePerAddress?: number;
    maxPassivePerUser?: number;
    /** Password checks (scrypt) running at once, overall and per address; more wait in turn. */
    maxPasswordChecks?: number;
    maxPasswordChecksPerAddress?: number;
    /**
     * HASH reads a whole file: at most this many run at once in the process (default: its CPUs,
     * os.availableParallelism()) and per user (default 2); more wait in turn (server/hash-turns.ts).
     */
    maxHashes?: number;
    maxHashesPerUser?: number;
    /** HASH of a larger file (bytes) is refused with 550 (default 0: any size). */
    hashMaxSize?: number;
    /**
     * Commands a second one session may send, sustained (default 5000; 0: no limit), and how many
     * at once ahead of that (default 50000). Commands over it wait (the connection stops reading),
     * they are not refused; a session held back while pipelining is scored (README, "Defender").
     */
    maxCommandRate?: number;
    maxCommandBurst?: number;
  };
  /** Scores per address, bans, the allow list (see the README's "Defender"). */
  defender?: {
    /** Default true. */
    enabled?: boolean;
    /** Networks never banned (CIDR); loopback is not in it by default. */
    allow?: string[];
    threshold?: number;
    windowMs?: number;
    banMs?: number;
    maxBanMs?: number;
    scores?: Partial<Record<DefenderEvent, number>>;
    /**
     * An IPv6 client counts as its network of this many bits, for the scores and bans and for the
     * per-address limits (default 64; 128: each address alone; at least 32). IPv4 counts per address.
     */
    ipv6PrefixLength?: number;
    /**
     * A site's NAT64/SIIT prefixes (RFC 6052: /32, /40, /48, /56, /64 or /96), besides the
     * well-known 64:ff9b::/96, always recognized: a client address in one counts as the IPv4
     * address it embeds (alone, as IPv4 clients do), for the scores, bans and per-address limits.
     */
    nat64Prefixes?: string[];
    /** Bans are kept in this file across restarts (`ferry serve`: <dataDir>/bans.json). */
    stateFile?: string;
    /** Unix socket `ferry bans` talks to (`ferry serve`: <dataDir>/control.sock). */
    controlSocket?: string;
  };
  greeting?: string;
  logger?: Logger;
  /**
   * Prometheus registry (prom-client) the server's metrics go to (`ferry_*`); default: a private
   * one nobody reads. Never prom-client's global registry.
   */
  metrics?: Registry;
  /** Called for every finished file transfer (not listings): `ferry serve` writes the xferlog. */
  onTransfer?: (record: TransferRecord) => void;
}

/** `passive.address` per client network: `{ network: '10.0.0.0/8', address: '10.0.0.5' }`, or a default. */
export type PassiveAddressRule = string | { network: string; address: string };

/** A bad option; `key` is its path in ServerOptions (`tls.minVersion`) so a caller can name it its own way. */
export class OptionError extends FerryError {
  readonly key: string;
  readonly detail: string;
  constructor(key: string, detail: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_OPTION', `options.${key}: ${detail}`, options);
    this.name = 'OptionError';
    this.key = key;
    this.detail = detail;
  }
}

/** Node runs a longer timer after 1 ms (TimeoutOverflowWarning): every session would end at once. */
/** How long running transfers get at a graceful stop (SIGTERM) unless timeouts.closeGraceMs says. */
export const DEFAULT_CLOSE_GRACE_MS = 10_000;

export const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMER_LIMIT = `at most ${MAX_TIMER_MS} (about 24.8 days, the longest a Node.js timer waits)`;
const timerMs = z.number().int().positive().max(MAX_TIMER_MS, TIMER_LIMIT);
/**
 * How many bits of an IPv6 client's address make its group. ISPs give a customer a /48 to /64, so
 * a shorter prefix groups unrelated customers (0: every IPv6 client), and one of them bans the rest.
 */
const IPV6_PREFIX_LIMIT = 'from 32 to 128 (an IPv6 client counts as its /N network; ISPs give /48 to /64)';
export const ipv6PrefixLength = z.number().int().min(32, IPV6_PREFIX_LIMIT).max(128, IPV6_PREFIX_LIMIT);
/** A NAT64/SIIT prefix (protocol/nat64.ts). */
export const nat64Prefix = z.string().superRefine((text, ctx) => {
  const p = parseNat64Prefix(text);
  if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
});
/** Linux's TCP_KEEPIDLE is at most 32767 s; a longer one leaves the kernel's default (2 hours). */
const MAX_KEEPALIVE_MS = 32_767_000;

/** A host name's labels (RFC 1123): letters, digits, inner hyphens; a trailing dot allowed. */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
/**
 * An IP address, or a host name looked up for PASV (see PassiveNames). PASV's reply carries IPv4
 * only (EPSV carries no address), so an IPv6 literal would fail every PASV: refused here, as a name
 * without an IPv4 address is at start.
 */
const passiveAddress = z
  .string()
  .refine((a) => net.isIP(a) !== 0 || HOST_NAME.test(a), 'expected an IP address or a host name')
  .refine(
    (a) => net.isIP(a) !== 6 || toIPv4(a) !== undefined,
    'expected an IPv4 address: a PASV reply cannot carry an IPv6 one (IPv6 clients use EPSV, which needs none)',
  );

const listener = z.union([
  z.literal(false),
  z
    .object({
      host: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
      port: z.number().int().min(0).max(65535),
    })
    .strict(),
]);

export const legacyEncoding = z.enum(LEGACY_ENCODINGS as [LegacyEncoding, ...LegacyEncoding[]]);

const schema = z
  .object({
    explicit: listener.optional(),
    implicit: listener.optional(),
    tls: z
      .object({
        certificates: z
          .array(z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict())
          .optional(),
        dataDir: z.string().min(1).optional(),
        minVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).optional(),
        ciphers: z.string().min(1).superRefine(checkCiphers).optional(),
        requireSessionReuse: z.boolean().optional(),
        sessionReuseScope: z.enum(['connection', 'user']).optional(),
        clientCaFiles: z.array(z.string().min(1)).optional(),
        clientCrlFiles: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    cutUploadsFile: z.string().min(1).optional(),
    allowClearData: z.boolean().optional(),
    allowPlainControl: z.boolean().optional(),
    allowCcc: z.boolean().optional(),
    denyFiles: z.array(z.string().min(1)).optional(),
    denyFilesIgnoreCase: z.boolean().optional(),
    hideDotFiles: z.boolean().optional(),
    legacyEncoding: legacyEncoding.optional(),
    passive: z
      .object({
        portMin: z.number().int().min(1).max(65535).optional(),
        portMax: z.number().int().min(1).max(65535).optional(),
        address: z
          .union([
            passiveAddress,
            z
              .array(
                z.union([
                  passiveAddress,
                  z
                    .object({ network: z.string().superRefine(checkNetwork), address: passiveAddress })
                    .strict(),
                ]),
              )
              .min(1)
              .refine((rules) => rules.filter((r) => typeof r === 'string').length <= 1, {
                message: 'at most one default address (a plain address) in the list',
              }),
          ])
          .optional(),
      })
      .strict()
      .refine(
        (p) =>
          (p.portMin === undefined) === (p.portMax === undefined) && (p.portMin ?? 0) <= (p.portMax ?? 0),
        {
          message: 'set both portMin and portMax, with portMin <= portMax (for example 50000-50100)',
        },
      )
      .optional(),
    timeouts: z
      .object({
        idleMs: timerMs.optional(),
        dataConnectMs: timerMs.optional(),
        handshakeMs: timerMs.optional(),
        dataIdleMs: timerMs.optional(),
        closeGraceMs: z.number().int().nonnegative().max(MAX_TIMER_MS, TIMER_LIMIT).optional(),
        stalledOutputMs: timerMs.optional(),
        loginMs: timerMs.optional(),
        commandMs: timerMs.optional(),
        keepaliveMs: z
          .number()
          .int()
          .min(1000)
          .max(MAX_KEEPALIVE_MS, `at most ${MAX_KEEPALIVE_MS} (32767 s: the kernel ignores a longer one)`)
          .optional(),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        maxSessions: z.number().int().positive().optional(),
        maxSessionsPerAddress: z.number().int().positive().optional(),
        maxLoginFailures: z.number().int().positive().optional(),
        maxUnauthenticatedPerAddress: z.number().int().positive().optional(),
        maxPassivePerAddress: z.number().int().positive().optional(),
        maxPassivePerUser: z.number().int().positive().optional(),
        maxPasswordChecks: z.number().int().positive().optional(),
        maxPasswordChecksPerAddress: z.number().int().positive().optional(),
        maxHashes: z.number().int().positive().optional(),
        maxHashesPerUser: z.number().int().positive().optional(),
        hashMaxSize: z.number().int().nonnegative().optional(),
        maxCommandRate: z.number().int().nonnegative().optional(),
        maxCommandBurst: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    defender: z
      .object({
        enabled: z.boolean().optional(),
        allow: z.array(z.string().superRefine(checkNetwork)).optional(),
        threshold: z.number().int().positive().optional(),
        windowMs: z.number().int().positive().optional(),
        banMs: z.number().int().positive().optional(),
        maxBanMs: z.number().int().positive().optional(),
        scores: z
          .object({
            'failed-login': z.number().int().nonnegative().optional(),
            'unknown-user': z.number().int().nonnegative().optional(),
            'tls-failure': z.number().int().nonnegative().optional(),
            'limit-refused': z.number().int().nonnegative().optional(),
            'command-flood': z.number().int().nonnegative().optional(),
          })
          .strict()
          .optional(),
        ipv6PrefixLength: ipv6PrefixLength.optional(),
        nat64Prefixes: z.array(nat64Prefix).optional(),
        stateFile: z.string().min(1).optional(),
        controlSocket: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    proxyProtocol: z
      .object({
        trusted: z.array(z.string().superRefine(checkNetwork)).min(1),
        required: z.boolean().optional(),
        headerTimeoutMs: timerMs.optional(),
      })
      .strict()
      .optional(),
    // One line: a line break would let the text send replies of its own.
    greeting: z
      .string()
      .min(1)
      .max(400)
      .regex(/^[^\p{Cc}]+$/u, 'one line of text, no control characters')
      .optional(),
  })
  // A misspelt key (`implicitt`, `tls.minVersoin`) is an error, not a default silently kept.
  .strict();

/** OpenSSL takes the list only if it names at least one cipher it knows (a leading `+`: added to Ferry's). */
function checkCiphers(ciphers: string, ctx: z.RefinementCtx): void {
  try {
    tls.createSecureContext({ ciphers: ciphers.replace(/^\+/, '') || '!ALL' });
  } catch {
    ctx.addIssue({ code: 'custom', message: `no cipher OpenSSL knows in "${ciphers}"` });
  }
}

function checkNetwork(cidr: string, ctx: z.RefinementCtx): void {
  try {
    addAllowed(new net.BlockList(), cidr);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  explicit: ListenerOptions | false;
  implicit: ListenerOptions | false;
  authenticator: Authenticator;
  sharedBans: SharedBans | undefined;
  storageFor: (principal: Principal) => StorageBackend;
  certificates: { certFile: string; keyFile: string }[];
  clientCaFiles: string[];
  clientCrlFiles: string[];
  dataDir: string;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers: string | undefined;
  requireSessionReuse: boolean;
  sessionReuseScope: 'connection' | 'user';
  cutUploadsFile: string | undefined;
  sharedCutUploads: SharedCutUploads | undefined;
  allowClearData: boolean;
  allowPlainControl: boolean;
  allowCcc: boolean;
  denyFiles: readonly string[];
  denyFilesIgnoreCase: boolean;
  hideDotFiles: boolean;
  /** legacyEncoding's character set; undefined when off. */
  legacyCharset: LegacyCharset | undefined;
  passive: {
    portMin: number;
    portMax: number;
    /** The address (or host name) PASV announces to `client` when one is configured for it. */
    addressFor(client: string): string | undefined;
    /** The host names in `passive.address`, looked up by the server (PassiveNames). */
    names: readonly string[];
  };
  proxyProtocol: ProxySettings | undefined;
  timeouts: {
    idleMs: number;
    dataConnectMs: number;
    handshakeMs: number;
    dataIdleMs: number;
    closeGraceMs: number;
    stalledOutputMs: number;
    loginMs: number;
    commandMs: number;
    keepaliveMs: number;
  };
  limits: {
    maxSessions: number;
    maxSessionsPerAddress: number;
    maxLoginFailures: number;
    maxUnauthenticatedPerAddress: number;
    maxPassivePerAddress: number;
    maxPassivePerUser: number;
    maxPasswordChecks: number;
    maxPasswordChecksPerAddress: number;
    maxHashes: number;
    maxHashesPerUser: number;
    /** 0: any size. */
    hashMaxSize: number;
    /** 0: no limit. */
    maxCommandRate: number;
    maxCommandBurst: number;
  };
  defender: DefenderSettings & {
    enabled: boolean;
    stateFile: string | undefined;
    controlSocket: string | undefined;
  };
  greeting: string;
  logger: Logger;
  metrics: Registry | undefined;
  onTransfer: ((record: TransferRecord) => void) | undefined;
}

function passiveAddresses(
  address: string | PassiveAddressRule[] | undefined,
): (client: string) => string | undefined {
  if (address === undefined || typeof address === 'string') return () => address;
  const rules = address.map((r) =>
    typeof r === 'string'
      ? { networks: undefined, address: r }
      : { networks: new NetworkList([r.network]), address: r.address },
  );
  const rule = rules.filter((r) => r.networks);
  const fallback = rules.find((r) => !r.networks)?.address;
  return (client) => rule.find((r) => r.networks?.contains(client))?.address ?? fallback;
}

function passiveNames(address: string | PassiveAddressRule[] | undefined): string[] {
  const all = [address ?? []].flat().map((r) => (typeof r === 'string' ? r : r.address));
  return [...new Set(all.filter((a) => net.isIP(a) === 0))];
}

/** Validates once, at construction; errors name the key and the fix. */
export function resolveOptions(o: ServerOptions): ResolvedOptions {
  if (!o || typeof o.authenticator?.authenticate !== 'function') {
    throw new OptionError('authenticator', 'an object with authenticate() is required.');
  }
  if (typeof o.storageFor !== 'function') {
    throw new OptionError('storageFor', 'a function (principal) => StorageBackend is required.');
  }
  if (o.metrics !== undefined && typeof o.metrics.getSingleMetric !== 'function') {
    throw new OptionError('metrics', 'a prom-client Registry is required.');
  }
  if (o.onTransfer !== undefined && typeof o.onTransfer !== 'function') {
    throw new OptionError('onTransfer', 'a function (record) => void is required.');
  }
  const {
    authenticator: _a,
    storageFor: _s,
    logger: _l,
    sharedBans: _b,
    sharedCutUploads: _c,
    metrics: _m,
    onTransfer: _t,
    ...plain
  } = o;
  if (
    o.logger !== undefined &&
    !['debug', 'info', 'warn', 'error', 'child'].every(
      (m) => typeof (o.logger as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    throw new OptionError(
      'logger',
      'a Logger (debug, info, warn, error, child) is required, e.g. a pino logger.',
    );
  }
  const parsed = schema.safeParse(plain);
  if (!parsed.success) {
    const { path: at, message } = reportedIssue(parsed.error.issues, schema);
    throw new OptionError(at.join('.'), message);
  }
  const v = parsed.data;
  // Read from /proc only when a listener is left to its default (not on every reload that names both).
  let ports: ReturnType<typeof defaultPorts> | undefined;
  const port = (which: 'explicit' | 'implicit'): number => (ports ??= defaultPorts())[which];
  // Neither asked for (left out or `false`): both defaults on, every address (as `ferry serve`), so
  // `{ implicit: false }` alone is explicit FTPS on its default port. One given: only what was
  // given, so an app that asked for 127.0.0.1 does not also serve implicit FTPS on every interface.
  const given = (l: typeof v.explicit): boolean => l !== undefined && l !== false;
  const neither = !given(v.explicit) && !given(v.implicit);
  const explicit = v.explicit ?? (neither && { host: '::', port: port('explicit') });
  const implicit = v.implicit ?? (neither && { host: '::', port: port('implicit') });
  if (explicit === false && implicit === false) {
    throw new OptionError('explicit/implicit', 'at least one listener must be on.');
  }
  return {
    explicit,
    implicit,
    authenticator: o.authenticator,
    sharedBans: o.sharedBans,
    storageFor: o.storageFor,
    certificates: v.tls?.certificates ?? [],
    clientCaFiles: v.tls?.clientCaFiles ?? [],
    clientCrlFiles: v.tls?.clientCrlFiles ?? [],
    dataDir: v.tls?.dataDir ?? path.join(os.homedir(), '.ferry'),
    minVersion: v.tls?.minVersion ?? 'TLSv1.2',
    ciphers: v.tls?.ciphers,
    requireSessionReuse: v.tls?.requireSessionReuse ?? true,
    sessionReuseScope: v.tls?.sessionReuseScope ?? 'connection',
    cutUploadsFile: v.cutUploadsFile,
    sharedCutUploads: o.sharedCutUploads,
    allowClearData: v.allowClearData ?? false,
    allowPlainControl: v.allowPlainControl ?? false,
    allowCcc: v.allowCcc ?? false,
    denyFiles: v.denyFiles ?? [],
    denyFilesIgnoreCase: v.denyFilesIgnoreCase ?? false,
    hideDotFiles: v.hideDotFiles ?? false,
    legacyCharset: v.legacyEncoding && new LegacyCharset(v.legacyEncoding),
    passive: {
      portMin: v.passive?.portMin ?? 0,
      portMax: v.passive?.portMax ?? 0,
      addressFor: passiveAddresses(v.passive?.address),
      names: passiveNames(v.passive?.address),
    },
    proxyProtocol: v.proxyProtocol && {
      trusted: v.proxyProtocol.trusted,
      required: v.proxyProtocol.required ?? true,
      headerTimeoutMs: v.proxyProtocol.headerTimeoutMs ?? 5_000,
    },
    timeouts: {
      idleMs: v.timeouts?.idleMs ?? 300_000,
      dataConnectMs: v.timeouts?.dataConnectMs ?? 30_000,
      handshakeMs: v.timeouts?.handshakeMs ?? 10_000,
      dataIdleMs: v.timeouts?.dataIdleMs ?? 300_000,
      closeGraceMs: v.timeouts?.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS,
      stalledOutputMs: v.timeouts?.stalledOutputMs ?? 60_000,
      loginMs: v.timeouts?.loginMs ?? 60_000,
      commandMs: v.timeouts?.commandMs ?? 300_000,
      keepaliveMs: v.timeouts?.keepaliveMs ?? 60_000,
    },
    limits: {
      maxSessions: v.limits?.maxSessions ?? 10_000,
      maxSessionsPerAddress: v.limits?.maxSessionsPerAddress ?? 2_000,
      maxLoginFailures: v.limits?.maxLoginFailures ?? 5,
      maxUnauthenticatedPerAddress: v.limits?.maxUnauthenticatedPerAddress ?? 16,
      maxPassivePerAddress: v.limits?.maxPassivePerAddress ?? 16,
      maxPassivePerUser: v.limits?.maxPassivePerUser ?? 16,
      maxPasswordChecks: v.limits?.maxPasswordChecks ?? 2,
      maxPasswordChecksPerAddress: v.limits?.maxPasswordChecksPerAddress ?? 1,
      maxHashes: v.limits?.maxHashes ?? os.availableParallelism(),
      maxHashesPerUser: v.limits?.maxHashesPerUser ?? 2,
      hashMaxSize: v.limits?.hashMaxSize ?? 0,
      maxCommandRate: v.limits?.maxCommandRate ?? DEFAULT_COMMAND_RATE.perSecond,
      maxCommandBurst: v.limits?.maxCommandBurst ?? DEFAULT_COMMAND_RATE.burst,
    },
    defender: {
      enabled: v.defender?.enabled ?? true,
      allow: v.defender?.allow ?? DEFAULT_DEFENDER.allow,
      scores: {
        ...DEFAULT_DEFENDER.scores,
        ...Object.fromEntries(Object.entries(v.defender?.scores ?? {}).filter(([, n]) => n !== undefined)),
      },
      threshold: v.defender?.threshold ?? DEFAULT_DEFENDER.threshold,
      windowMs: v.defender?.windowMs ?? DEFAULT_DEFENDER.windowMs,
      banMs: v.defender?.banMs ?? DEFAULT_DEFENDER.banMs,
      maxBanMs: v.defender?.maxBanMs ?? DEFAULT_DEFENDER.maxBanMs,
      maxTracked: DEFAULT_DEFENDER.maxTracked,
      ipv6PrefixLength: v.defender?.ipv6PrefixLength ?? DEFAULT_DEFENDER.ipv6PrefixLength,
      nat64Prefixes: v.defender?.nat64Prefixes ?? DEFAULT_DEFENDER.nat64Prefixes,
      stateFile: v.defender?.stateFile,
      controlSocket: v.defender?.controlSocket,
    },
    greeting: v.greeting ?? 'Ferry FTPS server ready.',
    logger: o.logger ?? silentLogger,
    metrics: o.metrics,
    onTransfer: o.onTransfer,
  };
}
