import type { Logger as PinoLogger } from 'pino';
import type { ClusterPrimary } from '../server/cluster/primary.js';
import type { ScryptCost } from '../auth/password.js';
import type { ServerOptions } from '../server/options.js';
import type { FerryServer } from '../server/server.js';
import { databaseUrlOf, loadConfig, type FileConfig } from './config.js';
import { serveSetup, type ServeFlags, type ServeSetup } from './serve-options.js';
import type { XferlogFile } from './xferlog-file.js';
import { settingsFor, workerSettings } from './workers.js';
import { tlsWarnings } from '../tls/certificate-warnings.js';
import { configSecretsWarning } from './config-secrets.js';
import path from 'node:path';
import type { CertificateMaterial } from '../tls/certificates.js';

/** What a reload replaces and what it keeps: the process's running state. */
export interface Running {
  config: FileConfig;
  setup: ServeSetup;
}

export interface ReloadContext {
  readonly flags: ServeFlags;
  readonly server: FerryServer | ClusterPrimary;
  readonly logger: PinoLogger;
  /** The options the CLI adds to the setup's (logger, metrics registry, transfer log). */
  readonly extra: Pick<ServerOptions, 'logger' | 'metrics' | 'onTransfer'>;
  readonly xferlog: XferlogFile | undefined;
  /** A cluster worker: the logins come from the primary. */
  readonly worker?: boolean;
  /** How passwords are verified (counted), kept across reloads. */
  readonly verify?: (plain: string, encoded: string, signal?: AbortSignal) => Promise<boolean>;
  /** The cost of the hashes made (FERRY_TEST_SCRYPT_COST, read at start). */
  readonly hashCost?: ScryptCost;
}

/** Server option keys (as reconfigure() names them) → what the user wrote. */
function settingName(key: string): string {
  if (key.startsWith('explicit')) return 'listen / explicitPort (--listen, --explicit-port)';
  if (key.startsWith('implicit')) return 'listen / implicitPort (--listen, --implicit-port)';
  if (key === 'defender.stateFile' || key === 'defender.controlSocket') return 'dataDir (defender files)';
  return key.replace(/Ms$/, 'Seconds');
}

/** Settings of the config file that only a restart applies (the process is built around them). */
function fileSettingsNeedingRestart(before: FileConfig, after: FileConfig): string[] {
  const keys = ['workers', 'admin', 'runAs', 'allowRoot', 'umask'] as const;
  const changed: string[] = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  // A new file name is followed; switching the transfer log on or off is not.
  if ((before.xferlog === undefined) !== (after.xferlog === undefined)) changed.push('xferlog');
  // The database connections are kept (and with them where the accounts are): named, never the URL.
  if (databaseUrlOf(before) !== databaseUrlOf(after)) changed.push('accounts.postgres (FERRY_DATABASE_URL)');
  return changed;
}

/**
 * SIGHUP: re-reads the config file and applies what a running server can change (users, limits,
 * timeouts, TLS policy and certificates, passive settings, the defender's allow list, log level,
 * transfer log); sessions keep running. Settings that need a restart are named in a warning; a
 * file that does not validate is rejected with the error logged, and the running configuration
 * stays. Either way the transfer log is reopened, in every process: logrotate's SIGHUP must not
 * depend on the file validating. Returns the new state, or the running one when rejected.
 */
export async function reloadConfiguration(
  ctx: ReloadContext,
  running: Running,
  given?: { data: unknown; certificates: CertificateMaterial | undefined },
): Promise<Running> {
  const { flags, server, logger } = ctx;
  let next: Running | undefined;
  let failure: Error | undefined;
  try {
    next = await applyConfiguration(ctx, running, given);
  } catch (err) {
    failure = err as Error;
  }
  ctx.xferlog?.reopen(next ? (flags.xferlog ?? next.config.xferlog ?? ctx.xferlog.path) : undefined);
  if (!ctx.worker && 'reloadWorkers' in server) {
    try {
      // Rejected here: the workers keep their configuration and only reopen their logs (no data).
      await server.reloadWorkers(next && settingsFor(next.setup.users, next.config));
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'a worker could not reload its configuration');
    }
  }
  // The outcome last: once it is logged, every process has reopened its logs.
  if (!next) {
    logger.error({ err: failure?.message }, 'configuration reload failed; the running configuration is kept');
    return running;
  }
  logger.info({ users: next.setup.users.accounts.length }, 'configuration reloaded');
  return next;
}

/** The new configuration, applied to this process's server; throws, keeping the running one. */
async function applyConfiguration(
  ctx: ReloadContext,
  running: Running,
  given: { data: unknown; certificates: CertificateMaterial | undefined } | undefined,
): Promise<Running> {
  const { flags, server, logger } = ctx;
  // A worker reloads with what its primary loaded and checked (WorkerSettings), not the file.
  const fromPrimary = ctx.worker ? workerSettings(given?.data) : undefined;
  const config = fromPrimary?.config ?? (flags.config ? await loadConfig(flags.config) : {});
  const setup = await serveSetup(flags, config, fromPrimary, logger, {
    running: running.setup,
    ...(ctx.verify ? { verify: ctx.verify } : {}),
    ...(ctx.hashCost ? { hashCost: ctx.hashCost } : {}),
  });
  let restart: string[];
  try {
    // A worker takes the certificates its primary loaded (it may not read a root-only key).
    ({ restartNeeded: restart } = await server.reconfigure(
      { ...setup.options, ...ctx.extra },
      given?.certificates,
    ));
  } catch (err) {
    if (!setup.shared) await setup.users.store.close(); // the database's accounts stay in use
    setup.storage.retire(); // the running setup's S3 connection stays, with its own holder
    throw setup.explain(err);
  }
  // The server watches the new accounts now: the sessions of config users that changed follow
  // (removed or disabled: 421), as the users file's do. Before any wait, so no command runs between.
  setup.users.configured.announce(running.setup.users.entries);
  // New defaults reach every account that takes them, in the sessions running too.
  if (JSON.stringify(running.config.userDefaults) !== JSON.stringify(config.userDefaults))
    setup.users.announceAll();
  if (!running.setup.shared) await running.setup.users.store.close();
  setup.follow();
  // Sessions from before go on with the old storage: its S3 sockets close once idle.
  running.setup.storage.retire();
  const needed = [
    ...new Set([...restart.map(settingName), ...fileSettingsNeedingRestart(running.config, config)]),
  ];
  // Said once per reload, by the primary (or the single process); a worker's copy is at debug.
  if (needed.length > 0) {
    (ctx.worker ? logger.debug : logger.warn).call(
      logger,
      { restartNeeded: needed },
      `configuration reloaded; a restart is needed to apply: ${needed.join(', ')}`,
    );
  }
  if (!ctx.worker) {
    for (const w of await tlsWarnings(setup.options.tls ?? {})) logger.warn(w);
    const secrets = flags.config && (await configSecretsWarning(path.resolve(flags.config), config));
    if (secrets) logger.warn(secrets);
  }
  logger.level = flags.logLevel ?? config.logLevel ?? 'info';
  return { config, setup };
}
