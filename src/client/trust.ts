import { access, mkdir, readFile, appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { fingerprintOfDer } from '../tls/certificates.js';
import { describeUntrusted, NO_TRUSTED_ISSUER } from './certificate-faults.js';
import { CertificateError } from './errors.js';

/**
 * Deciding whether to trust a server certificate, after the handshake (the TLS layer itself never
 * rejects, so that pinning and trust-on-first-use can apply). In order:
 *   1. `insecure`: anything goes; otherwise a key below OpenSSL security level 2 is refused unless
 *      `weakKeys` (RSA under 2048 bits: the TLS layer, at level 2, only notes it as UNSPECIFIED);
 *   2. pinned fingerprints: the certificate must be one of them (CAs are not consulted);
 *   3. verified by the CAs (system or `ca`) with a matching host name: trusted, and with
 *      `trustOnFirstUse` an unknown server is recorded as CA-verified (`host:port ca-verified`, which
 *      survives a renewal by a CA, unlike a fingerprint);
 *   4. the known-hosts store: same certificate as recorded → trusted; another one, or any certificate
 *      for a server recorded as CA-verified → refused ("key changed": an impostor's, maybe); unknown →
 *      recorded and trusted when `trustOnFirstUse` and its only fault is that no CA vouches for it
 *      (self-signed, unknown issuer), else refused. An expired certificate, or one a CA issued for
 *      another name, is never trusted on first use: that is a fault TOFU cannot vouch for.
 */

/** `sha256:AB:CD:…` of a certificate in DER form. */
export function fingerprintSha256(der: Buffer): string {
  return `sha256:${fingerprintOfDer(der)}`;
}

/** Normalizes a user-given fingerprint (`sha256:ab:cd…`, `AB:CD…`, `abcd…`) to `sha256:AB:CD:…`. */
export function normalizeFingerprint(text: string): string {
  const t = text.trim();
  const body = t.toLowerCase().startsWith('sha256:') ? t.slice(7) : t;
  const hex = body.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new FerryError(
      'ERR_USAGE',
      `Not a SHA-256 fingerprint: ${JSON.stringify(text)} (expected sha256: and 32 hex bytes).`,
    );
  }
  return `sha256:${hex.replace(/(..)(?!$)/g, '$1:')}`;
}

/** What a known-hosts store holds, instead of a fingerprint, for a server a CA vouched for. */
export const CA_VERIFIED = 'ca-verified';

/** A known-hosts store: `host:port` → fingerprint (or CA_VERIFIED). */
export interface KnownHostsStore {
  /** Where it lives, for messages. */
  readonly location: string;
  lookup(server: string): Promise<string | undefined>;
  /** Records `entry` (a fingerprint or CA_VERIFIED) unless the server has one already. */
  remember(server: string, entry: string): Promise<void>;
}

/** The default file: $FERRY_KNOWN_HOSTS, else $XDG_CONFIG_HOME/ferry/known_hosts, else ~/.config/…. */
export function defaultKnownHostsFile(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const explicit = env['FERRY_KNOWN_HOSTS'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const config = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] || os.homedir(), '.config');
  return path.join(config, 'ferry', 'known_hosts');
}

/**
 * A text file, one server per line: `host:port sha256:AB:CD:…` or `host:port ca-verified`; `#`
 * starts a comment. Lines are only ever appended or replaced by the user, so a changed key is never
 * overwritten silently.
 */
export class KnownHostsFile implements KnownHostsStore {
  /** remember() calls in turn: parallel connections to one server append one line, not several. */
  private writing: Promise<void> = Promise.resolve();

  /**
   * `home`: the directory never created for the file (a system account's HOME=/nonexistent is no
   * place to keep files); directories below an existing one are made as needed.
   */
  constructor(
    readonly location: string = defaultKnownHostsFile(),
    private readonly home: string = process.env['HOME'] || os.homedir(),
  ) {}

  /** The file's text, undefined when there is no file. */
  private async text(): Promise<string | undefined> {
    try {
      return await readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.fileError('read', err);
      return undefined;
    }
  }

  /** A local file error (exit 7) naming the file and how to choose another. */
  private fileError(verb: 'read' | 'write', err: unknown): FerryError {
    const why = err instanceof Error ? err.message : String(err);
    return new FerryError(
      'ERR_LOCAL',
      `Cannot ${verb} the known-hosts file ${this.location}: ${why}.\n` +
        '  Choose another with --known-hosts FILE or FERRY_KNOWN_HOSTS (from code: the option knownHosts).',
      { cause: err },
    );
  }

  private async entries(text?: string): Promise<Map<string, { entry: string; line: number }>> {
    const map = new Map<string, { entry: string; line: number }>();
    (text ?? (await this.text()) ?? '').split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const [server, fp] = line.split(/\s+/);
      if (server === undefined || fp === undefined || map.has(server.toLowerCase())) return;
      try {
        const entry = fp.toLowerCase() === CA_VERIFIED ? CA_VERIFIED : normalizeFingerprint(fp);
        map.set(server.toLowerCase(), { entry, line: i + 1 });
      } catch {
        // a malformed line is ignored
      }
    });
    return map;
  }

  async lookup(server: string): Promise<string | undefined> {
    return (await this.entries()).get(server.toLowerCase())?.entry;
  }

  /** The line number of a server's entry (for the "key changed" message). */
  async lineOf(server: string): Promise<number | undefined> {
    return (await this.entries()).get(server.toLowerCase())?.line;
  }

  remember(server: string, entry: string): Promise<void> {
    const done = this.writing.then(() => this.append(server, entry));
    this.writing = done.catch(() => {});
    return done;
  }

  private async append(server: string, entry: string): Promise<void> {
    const dir = path.dirname(this.location);
    const inHome = !path.relative(this.home, dir).startsWith('..') && path.isAbsolute(this.home);
    if (
      inHome &&
      !(await access(this.home).then(
        () => true,
        () => false,
      ))
    )
      throw this.fileError('write', `the home directory ${this.home} does not exist`);
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw this.fileError('write', err);
    });
    const text = await this.text();
    if (text !== undefined && (await this.entries(text)).has(server.toLowerCase())) return;
    const line = `${server.toLowerCase()} ${entry}\n`;
    const written =
      text !== undefined
        ? appendFile(this.location, line, { mode: 0o600 })
        : writeFile(
            this.location,
            `# Ferry known FTPS servers: host:port sha256-fingerprint (or ca-verified)\n${line}`,
            { mode: 0o600 },
          );
    await written.catch((err: unknown) => {
      throw this.fileError('write', err);
    });
  }
}

export interface TrustOptions {
  /** Accept any certificate (no verification at all). */
  readonly insecure?: boolean;
  /** Accept exactly these certificates (`sha256:…`); CAs are not consulted. */
  readonly fingerprints?: readonly string[];
  /** Consulted for certificates the CAs do not vouch for. */
  readonly knownHosts?: KnownHostsStore;
  /**
   * Record an unknown server in `knownHosts`: a self-signed certificate (or one from an unknown CA)
   * by its fingerprint, and accept it; a CA-verified one as CA_VERIFIED.
   */
  readonly trustOnFirstUse?: boolean;
  /** The name the certificate was checked against (servername, else host), for messages. */
  readonly hostname?: string;
  /** Accept keys below OpenSSL security level 2 (the client's --tls-min 1.0/1.1 lowers it to 0). */
  readonly weakKeys?: boolean;
}

/** Security level 2's smallest keys (112-bit security): RSA, DSA 2048 bits; EC 224. */
function weakKeyOf(der: Buffer): string | undefined {
  const key = new X509Certificate(der).publicKey;
  const type = key.asymmetricKeyType ?? '?';
  const bits = key.asymmetricKeyDetails?.modulusLength;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (bits !== undefined && bits < 2048 && /^(rsa|rsa-pss|dsa|dh)$/.test(type)) return `${type} ${bits} bits`;
  if (curve !== undefined && /^(prime192v1|secp160|secp192|sect163|sect193)/.test(curve))
    return `${type} ${curve}`;
  return undefined;
}

export type TrustDecision =
  | { readonly kind: 'insecure' }
  | { readonly kind: 'pinned' }
  /** `recordedIn`: the server was recorded as CA-verified there (trustOnFirstUse). */
  | { readonly kind: 'ca'; readonly recordedIn?: string }
  | { readonly kind: 'known' }
  | {
      readonly kind: 'first-use';
      readonly location: string;
      readonly fingerprint: string;
      /** Why the CAs did not vouch for it, as describeUntrusted() words it. */
      readonly reason: string;
    };

/** Server identity for known-hosts: `host:port`, IPv6 hosts in brackets. */
export function serverKey(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Applies the trust policy to a connected TLS socket; throws CertificateError when untrusted. */
export async function checkServerCertificate(
  sock: tls.TLSSocket,
  server: string,
  opts: TrustOptions,
): Promise<TrustDecision> {
  if (opts.insecure) return { kind: 'insecure' };
  const cert = sock.getPeerCertificate();
  const der: Buffer | undefined = cert && 'raw' in cert ? cert.raw : undefined;
  if (!der) throw new CertificateError('untrusted', server, '', `${server} presented no certificate.`);
  const fp = fingerprintSha256(der);
  const weak = opts.weakKeys ? undefined : weakKeyOf(der);
  if (weak !== undefined)
    throw new CertificateError(
      'weak-key',
      server,
      fp,
      `The certificate of ${server} has a key too weak (${weak}): OpenSSL security level 2 needs 2048 bits for RSA.\n` +
        '  If you must connect, --tls-min 1.0 allows it (security level 0: weaker TLS too), or --insecure skips all checks' +
        ' (from code: the options minTlsVersion, insecure).',
    );
  if (opts.fingerprints && opts.fingerprints.length > 0) {
    const wanted = opts.fingerprints.map(normalizeFingerprint);
    if (wanted.includes(fp)) return { kind: 'pinned' };
    throw new CertificateError(
      'fingerprint-mismatch',
      server,
      fp,
      `The certificate of ${server} does not match the pinned fingerprint.\n  presented: ${fp}\n  expected:  ${wanted.join('\n             ')}`,
    );
  }
  const store = opts.knownHosts;
  if (sock.authorized) {
    // Recorded so that an impostor's self-signed certificate is refused later, as a changed key.
    if (!store || !opts.trustOnFirstUse || (await store.lookup(server)) !== undefined) return { kind: 'ca' };
    await store.remember(server, CA_VERIFIED);
    return { kind: 'ca', recordedIn: store.location };
  }
  const code = String(sock.authorizationError ?? 'not verified');
  const reason = describeUntrusted(code);
  if (store) {
    const known = await store.lookup(server);
    if (known === fp) return { kind: 'known' };
    if (known !== undefined) {
      const line = store instanceof KnownHostsFile ? await store.lineOf(server) : undefined;
      const entry = `the entry${line !== undefined ? ` on line ${line}` : ''} of ${store.location}`;
      throw new CertificateError(
        'key-changed',
        server,
        fp,
        known === CA_VERIFIED
          ? `WARNING: ${server} PRESENTED A CERTIFICATE NO CA VOUCHES FOR (${reason}).\n` +
              `  presented: ${fp}\n` +
              `A CA verified its certificate before (${entry}): this may be an impostor intercepting the connection (the password was not sent).\n` +
              `If the server really has such a certificate now, remove ${entry} and connect again.`
          : `WARNING: THE CERTIFICATE OF ${server} HAS CHANGED.\n` +
              `  recorded:  ${known}\n  presented: ${fp}\n` +
              'Someone may be intercepting the connection, or the server got a new certificate.\n' +
              `If the change is expected, remove ${entry} and connect again.`,
      );
    }
    if (opts.trustOnFirstUse && NO_TRUSTED_ISSUER.has(code)) {
      await store.remember(server, fp);
      return { kind: 'first-use', location: store.location, fingerprint: fp, reason };
    }
  }
  // Only a missing CA is something --ca or --tofu can answer; expired or wrong-name is not.
  const hint = NO_TRUSTED_ISSUER.has(code)
    ? 'Pass --ca FILE with its CA, pin it with --fingerprint, trust it on first use with --tofu, or skip checks with --insecure' +
      ' (from code: the options ca, fingerprints, knownHosts with trustOnFirstUse, insecure).'
    : (opts.trustOnFirstUse
        ? '--tofu trusts only a certificate no CA vouches for (self-signed), not an expired one or one for another host name.\n'
        : '') +
      'Pin it with --fingerprint if you are sure it is the right one, or skip checks with --insecure' +
      ' (from code: the options fingerprints, insecure).';
  throw new CertificateError(
    'untrusted',
    server,
    fp,
    `The certificate of ${server} is not trusted (${reason}).\n  fingerprint: ${fp}\n${details(code, cert, opts.hostname)}${hint}`,
  );
}

/**
 * What the certificate says about a fault no --ca answers, as curl says it: the names it has, or its
 * dates (it was "not trusted" alone, and the user went on looking for the right CA file).
 */
function details(code: string, cert: tls.PeerCertificate, hostname: string | undefined): string {
  switch (code) {
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = cert.subjectaltname ?? (cert.subject?.CN ? `CN=${String(cert.subject.CN)}` : 'none');
      return `  its names: ${names}${hostname !== undefined ? ` (not ${hostname})` : ''}\n`;
    }
    case 'CERT_HAS_EXPIRED':
      return `  expired on: ${cert.valid_to}\n`;
    case 'CERT_NOT_YET_VALID':
      return `  valid from: ${cert.valid_from} (or this machine's clock is wrong)\n`;
    default:
      return '';
  }
}
