import { mkdir, readFile, appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { FerryError } from '../errors.js';
import { fingerprintOfDer } from '../tls/certificates.js';
import { CertificateError } from './errors.js';

/**
 * Deciding whether to trust a server certificate, after the handshake (the TLS layer itself never
 * rejects, so that pinning and trust-on-first-use can apply). In order:
 *   1. `insecure`: anything goes;
 *   2. pinned fingerprints: the certificate must be one of them (CAs are not consulted);
 *   3. verified by the CAs (system or `ca`) with a matching host name: trusted;
 *   4. the known-hosts store: same certificate as recorded → trusted; another one → refused
 *      ("key changed"); unknown → recorded and trusted when `trustOnFirstUse`, else refused.
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

/** A known-hosts store: `host:port` → fingerprint. */
export interface KnownHostsStore {
  /** Where it lives, for messages. */
  readonly location: string;
  lookup(server: string): Promise<string | undefined>;
  remember(server: string, fingerprint: string): Promise<void>;
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
 * A text file, one server per line: `host:port sha256:AB:CD:…`; `#` starts a comment. Lines are
 * only ever appended or replaced by the user, so a changed key is never overwritten silently.
 */
export class KnownHostsFile implements KnownHostsStore {
  constructor(readonly location: string = defaultKnownHostsFile()) {}

  private async entries(): Promise<Map<string, { fingerprint: string; line: number }>> {
    let text = '';
    try {
      text = await readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const map = new Map<string, { fingerprint: string; line: number }>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const [server, fp] = line.split(/\s+/);
      if (server === undefined || fp === undefined || map.has(server.toLowerCase())) return;
      try {
        map.set(server.toLowerCase(), { fingerprint: normalizeFingerprint(fp), line: i + 1 });
      } catch {
        // a malformed line is ignored
      }
    });
    return map;
  }

  async lookup(server: string): Promise<string | undefined> {
    return (await this.entries()).get(server.toLowerCase())?.fingerprint;
  }

  /** The line number of a server's entry (for the "key changed" message). */
  async lineOf(server: string): Promise<number | undefined> {
    return (await this.entries()).get(server.toLowerCase())?.line;
  }

  async remember(server: string, fingerprint: string): Promise<void> {
    await mkdir(path.dirname(this.location), { recursive: true, mode: 0o700 });
    let exists = true;
    try {
      await readFile(this.location);
    } catch {
      exists = false;
    }
    const line = `${server.toLowerCase()} ${fingerprint}\n`;
    if (exists) await appendFile(this.location, line, { mode: 0o600 });
    else
      await writeFile(this.location, `# Ferry known FTPS servers: host:port sha256-fingerprint\n${line}`, {
        mode: 0o600,
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
  /** Record (and accept) an unknown server's certificate in `knownHosts`. */
  readonly trustOnFirstUse?: boolean;
}

export type TrustDecision =
  | { readonly kind: 'insecure' }
  | { readonly kind: 'pinned' }
  | { readonly kind: 'ca' }
  | { readonly kind: 'known' }
  | { readonly kind: 'first-use'; readonly location: string; readonly fingerprint: string };

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
  if (sock.authorized) return { kind: 'ca' };
  const reason = String(sock.authorizationError ?? 'not verified');
  const store = opts.knownHosts;
  if (store) {
    const known = await store.lookup(server);
    if (known !== undefined) {
      if (known === fp) return { kind: 'known' };
      const line = store instanceof KnownHostsFile ? await store.lineOf(server) : undefined;
      throw new CertificateError(
        'key-changed',
        server,
        fp,
        `WARNING: THE CERTIFICATE OF ${server} HAS CHANGED.\n` +
          `  recorded:  ${known}\n  presented: ${fp}\n` +
          'Someone may be intercepting the connection, or the server got a new certificate.\n' +
          `If the change is expected, remove the entry${line !== undefined ? ` on line ${line}` : ''} of ${store.location} and connect again.`,
      );
    }
    if (opts.trustOnFirstUse) {
      await store.remember(server, fp);
      return { kind: 'first-use', location: store.location, fingerprint: fp };
    }
  }
  throw new CertificateError(
    'untrusted',
    server,
    fp,
    `The certificate of ${server} is not trusted (${reason}).\n  fingerprint: ${fp}\n` +
      'Pass --ca FILE with its CA, pin it with --fingerprint, trust it on first use with --tofu, or skip checks with --insecure' +
      ' (from code: the options ca, fingerprints, knownHosts with trustOnFirstUse, insecure).',
  );
}
