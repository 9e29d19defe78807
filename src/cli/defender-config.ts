import path from 'node:path';
import type { ServerOptions } from '../server/options.js';
import type { DefenderConfig } from './config.js';

/** Where `ferry serve` keeps its bans and where `ferry bans` finds the running server. */
export function defenderPaths(dataDir: string): { stateFile: string; controlSocket: string } {
  return { stateFile: path.join(dataDir, 'bans.json'), controlSocket: path.join(dataDir, 'control.sock') };
}

const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : s * 1000);

/** The config's `defender:` block as server options (seconds → ms; bans kept in the data dir). */
export function defenderOptions(
  c: DefenderConfig | undefined,
  dataDir: string,
): Pick<ServerOptions, 'defender'> & {
  limits: NonNullable<ServerOptions['limits']>;
  timeouts: NonNullable<ServerOptions['timeouts']>;
} {
  return {
    defender: {
      enabled: c?.enabled,
      allow: c?.allow,
      threshold: c?.threshold,
      windowMs: ms(c?.windowSeconds),
      banMs: ms(c?.banSeconds),
      maxBanMs: ms(c?.maxBanSeconds),
      scores: {
        'failed-login': c?.scores?.failedLogin,
        'unknown-user': c?.scores?.unknownUser,
        'tls-failure': c?.scores?.tlsFailure,
        'limit-refused': c?.scores?.limitRefused,
        'command-flood': c?.scores?.commandFlood,
      },
      ipv6PrefixLength: c?.ipv6PrefixLength,
      nat64Prefixes: c?.nat64Prefixes,
      ...defenderPaths(dataDir),
    },
    limits: {
      maxUnauthenticatedPerAddress: c?.maxUnauthenticatedPerAddress,
      maxPassivePerAddress: c?.maxPassivePerAddress,
      maxPassivePerUser: c?.maxPassivePerUser,
      maxPasswordChecks: c?.maxPasswordChecks,
      maxPasswordChecksPerAddress: c?.maxPasswordChecksPerAddress,
    },
    timeouts: { handshakeMs: ms(c?.handshakeTimeoutSeconds), loginMs: ms(c?.loginTimeoutSeconds) },
  };
}
