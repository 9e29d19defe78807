import type { Logger } from '../logger.js';
import type { CertificateSource, CertificateStore, TlsPolicy } from '../tls/certificates.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';

/**
 * A reload's options: `options` validated (the running logger and metrics registry kept), the
 * settings that apply now (`next`), and the keys that need a restart. Throws when not valid.
 */
export function reloadPlan(
  running: ResolvedOptions,
  options: ServerOptions,
): { next: ResolvedOptions; restartNeeded: string[] } {
  const resolved = resolveOptions({
    ...options,
    logger: options.logger ?? running.logger,
    metrics: running.metrics,
  });
  return { next: applicable(running, resolved), restartNeeded: restartNeeded(running, resolved) };
}

/**
 * Settings a running server cannot change: the listeners (their sockets are bound) and the
 * defender (its scores and bans live on), but for its allow list. A reload keeps the running
 * values of these and names the ones that differ, so the operator knows a restart is needed.
 */
const FIXED = ['explicit', 'implicit', 'defender'] as const;
const RELOADABLE = new Set(['defender.allow']);

/** The option keys (`explicit`, `defender.banMs`…) whose new value needs a restart. */
export function restartNeeded(running: ResolvedOptions, next: ResolvedOptions): string[] {
  const changed: string[] = [];
  for (const key of FIXED) {
    const a: unknown = running[key];
    const b: unknown = next[key];
    if (typeof a === 'object' && a && typeof b === 'object' && b) {
      for (const sub of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const x = (a as Record<string, unknown>)[sub];
        const y = (b as Record<string, unknown>)[sub];
        const name = `${key}.${sub}`;
        if (!RELOADABLE.has(name) && JSON.stringify(x) !== JSON.stringify(y)) changed.push(name);
      }
    } else if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(key);
  }
  return changed;
}

/** `next` with the settings that need a restart kept at their running values. */
export function applicable(running: ResolvedOptions, next: ResolvedOptions): ResolvedOptions {
  return {
    ...next,
    explicit: running.explicit,
    implicit: running.implicit,
    defender: { ...running.defender, allow: next.defender.allow },
  };
}

/**
 * What the certificate store loads for `o`: the same at the start and at every reload (a reload
 * that left out the client CAs dropped them, and CA-issued certificates stopped logging in).
 */
export function certificateSettings(o: ResolvedOptions): [CertificateSource, TlsPolicy] {
  return [
    {
      files: o.certificates,
      dataDir: o.dataDir,
      clientCaFiles: o.clientCaFiles,
      clientCrlFiles: o.clientCrlFiles,
    },
    { minVersion: o.minVersion, ...(o.ciphers !== undefined ? { ciphers: o.ciphers } : {}) },
  ];
}

/**
 * After the certificates were (re)loaded: when the files in use could not be read (a root-only key,
 * the server run as another user), that the running ones were kept and how to have a renewed one
 * served. Returns whether it warned.
 */
export function warnKeptCertificates(logger: Logger, store: CertificateStore): boolean {
  if (store.kept.length === 0) return false;
  logger.warn(
    { fingerprints: store.sha256, unreadable: store.kept },
    "certificates kept: the server cannot read their files now, so it serves the ones it loaded before (the rest of the configuration is applied); a renewed certificate is served only once the server's user can read them (e.g. chgrp ferry KEY; chmod 640 KEY) or after a restart",
  );
  return true;
}
