import type { Command } from 'commander';
import { normalizeFingerprint, type KnownHostsStore } from '../client/trust.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The certificate trust options every client command shares with \`ferry probe\` (--fingerprint,
 * --tofu, --known-hosts, --insecure): one spelling, one default; `insecure` and `fingerprint` say
 * what they mean for the command at hand.
 */
export function addTrustOptions(cmd: Command, help: { insecure: string; fingerprint: string }): Command {
  return cmd
    .option('--insecure', help.insecure)
    .option('--fingerprint <sha256>', help.fingerprint, collect)
    .option(
      '--tofu',
      'trust an unknown self-signed certificate on first use and remember it (a CA-verified server is remembered as such)',
    )
    .option(
      '--known-hosts <file>',
      'known-hosts file (default $FERRY_KNOWN_HOSTS, else $XDG_CONFIG_HOME/ferry/known_hosts or ~/.config/ferry/known_hosts)',
    );
}

/** What the trust options set, as the parsed flags give them. */
export interface TrustFlags {
  insecure?: boolean;
  fingerprint?: string[];
  tofu?: boolean;
}

/** The trust policy (client/trust.ts TrustOptions) the flags ask for, with the known-hosts file. */
export function trustPolicy(
  o: TrustFlags,
  knownHosts: KnownHostsStore,
): { insecure: boolean; fingerprints: string[]; knownHosts: KnownHostsStore; trustOnFirstUse: boolean } {
  return {
    insecure: o.insecure ?? false,
    fingerprints: (o.fingerprint ?? []).map(normalizeFingerprint),
    knownHosts,
    trustOnFirstUse: o.tofu ?? false,
  };
}
