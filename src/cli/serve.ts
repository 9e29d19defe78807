import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CLOSE_GRACE_MS, resolveOptions, type ServerOptions } from '../server/options.js';
import { ClusterPrimary } from '../server/cluster/primary.js';
import { FerryServer } from '../server/server.js';
import { assertFdPathsAvailable } from '../storage/fd-jail.js';
import {
  cutUploadsFileOf,
  databaseUrlOf,
  dataDirOf,
  loadConfig,
  type FileConfig,
  usageFileOf,
  usersFileOf,
} from './config.js';
import { createServerLogger, endServerLog } from './log-destination.js';
import { listenUrl } from './listen-url.js';
import { serveSetup, type ServeFlags, type ServeUsers } from './serve-options.js';
import { forkWorker, receiveSettings, runWorker, workerCount, workerIndex, settingsFor } from './workers.js';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { DEFAULT_SCRYPT_COST, verifyPassword } from '../auth/password.js';
import { HASH_COST_ENV, hashCostOf } from './hash-cost.js';
import { AdminServer } from '../admin/admin-server.js';
import { parseHostPort } from './config.js';
import { reloadConfiguration, type ReloadContext, type Running } from './serve-reload.js';
import { currentUserName, runAsDataDir, runAsWarnings, usersDirWarning } from './run-as-checks.js';
import { HomeAccessWatch } from './home-access.js';
import { checkRootPolicy, dropPrivileges, handOver, lookupUser, type SystemUser } from './run-as.js';
import { awsEnv } from './storage-config.js';
import { XferlogFile } from './xferlog-file.js';
import { raiseOpenFilesLimit } from './open-files.js';
import { localRoots, recountUsageIn, UploadSweeper } from './upload-sweeper.js';
import { UsageRecounts } from './usage-recounts.js';
import { UsageFile } from '../auth/usage-file.js';
import { markServing, servingMarkOf, unmarkServing } from './serving-mark.js';
import { countedTree } from './user-storage.js';
import type { Account } from '../auth/account.js';
import { tlsWarnings } from '../tls/certificate-warnings.js';
import { configSecretsWarning } from './config-secrets.js';
import { selfSignedFiles } from '../tls/certificates.js';
import { defenderPaths } from './defender-config.js';
import { configOption } from './config-option.js';
import { FerryError } from '../errors.js';
import { LEGACY_ENCODINGS } from '../protocol/legacy-encoding.js';
import { ServeSignals } from './serve-signals.js';
import { StartLeftovers } from './start-leftovers.js';
import { claimDataDir, type DataDirClaim } from './data-dir-claim.js';

// main.ts makes `ferry serve`'s program from the commander bundled with the server (serve-bundle.ts):
// the package, eight CommonJS modules, cost each server process and each worker ~25 ms more CPU.
export { Command, CommanderError } from 'commander';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** `signals`: caught since the process started (main.ts); else from when `serve` starts. */
export function registerServe(program: Command, signals?: ServeSignals): void {
  program
    .command('serve')
    .description('run the FTPS server (explicit and implicit listeners; TLS required by default)')
    .addOption(configOption('YAML config file (flags override it)'))
    .option('--root <dir>', 'directory served to the default user (default: the current directory)')
    .option(
      '--listen <addr>',
      'address to listen on, or several: a,b (default :: = IPv6 and IPv4; with 0.0.0.0 too, :: is IPv6 only)',
    )
    .option(
      '--explicit-port <n>',
      'explicit FTPS port, 0 = off (default 21, or 2121 when it cannot bind 21: not root, no CAP_NET_BIND_SERVICE)',
    )
    .option(
      '--implicit-port <n>',
      'implicit FTPS port, 0 = off (default 990, or 9990 when it cannot bind 990)',
    )
    .option('--pasv-ports <a-b>', 'passive port range, e.g. 50000-50100 (default: any free port)')
    .option(
      '--pasv-address <address>',
      'IPv4 address or host name announced in PASV replies (for NAT; a name is looked up again every 5 minutes)',
    )
    .option(
      '--user <name[:password]>',
      'add a login (repeatable): the password from FERRY_PASSWORD or typed on a terminal (NAME:PASSWORD shows it in ps)',
      collect,
      [],
    )
    .option(
      '--anonymous <dir>',
      'anonymous FTP: logins anonymous and ftp (any password) get <dir> read-only (config: anonymous:)',
    )
    .option('--cert <file>', 'certificate PEM (repeatable: RSA and ECDSA)', collect, [])
    .option('--key <file>', 'private key PEM matching each --cert', collect, [])
    .option(
      '--client-ca <file>',
      'CA (PEM) whose client certificates log users in by CN (repeatable; see ferry users --cert-login)',
      collect,
      [],
    )
    .option(
      '--client-crl <file>',
      'CRLs (PEM) revoking client certificates of the --client-ca CAs (repeatable; reloaded on SIGHUP)',
      collect,
      [],
    )
    .option('--allow-clear-data', 'allow PROT C (unencrypted data connections)')
    .option('--allow-ccc', 'allow CCC (control connection back to clear text after login)')
    .option(
      '--allow-plain',
      'allow login without TLS on the explicit port (plain FTP also needs --allow-clear-data)',
    )
    .option('--tls-min <version>', 'minimum TLS version: 1.0, 1.1, 1.2 (default) or 1.3 (or TLSv1.2, …)')
    .option('--no-require-reuse', 'do not require data connections to resume the control TLS session')
    .option(
      '--session-reuse-scope <scope>',
      "connection (default) or user: a data connection may also resume the sessions of the same user's other connections from its address (rclone)",
    )
    .option(
      '--legacy-encoding <set>',
      `read command lines that are not UTF-8 in this set and answer such clients in it: ${LEGACY_ENCODINGS.join(', ')} (default: off, 501)`,
    )
    .option(
      '--data-dir <dir>',
      'state: users.yaml, the generated certificate, bans, the control socket (default ~/.ferry)',
    )
    .option('--log-level <level>', 'debug, info (default), warn, error, silent')
    .option(
      '--workers <n>',
      'worker processes sharing the listeners (default: one per core; 1 = one process)',
    )
    .option(
      '--admin-listen <host:port>',
      'admin HTTP listener: /metrics, /healthz, /readyz, /sessions (default: off)',
    )
    .option('--xferlog <file>', 'transfer log in the xferlog format (wu-ftpd, vsftpd)')
    .option('--run-as <user>', 'started as root: become this user once the ports are bound')
    .option('--allow-root', 'serve as root (refused otherwise, unless --run-as is given)')
    .action(async (flags: ServeFlags) => {
      await serve(flags, signals ?? new ServeSignals());
    });
}

async function serve(flags: ServeFlags, signals: ServeSignals): Promise<void> {
  assertFdPathsAvailable(); // the jail needs /proc/self/fd: refuse to start rather than serve without it
  const worker = workerIndex();
  // A worker takes the primary's configuration and logins, never the file's (see WorkerSettings).
  const fromPrimary = worker ? await receiveSettings() : undefined;
  const config = fromPrimary?.config ?? (flags.config ? await loadConfig(flags.config) : {});
  // New files are created 0666 and directories 0777, less this mask (an upload that replaces a file
  // keeps that file's mode); workers inherit it.
  if (config.umask !== undefined) process.umask(config.umask);
  const workers = workerCount(flags.workers, config.workers);
  const runAsName = flags.runAs ?? config.runAs;
  const runAs = runAsName
    ? lookupUser(runAsName, flags.runAs ? '--run-as' : `${flags.config}: runAs`)
    : undefined;
  checkRootPolicy(runAs, flags.allowRoot ?? config.allowRoot ?? false, flags.runAs ? '--run-as' : 'runAs');
  // The run-as user keeps its files (certificate, users, bans) in its own ~/.ferry by default.
  if (runAs && flags.dataDir === undefined && config.dataDir === undefined)
    flags = { ...flags, dataDir: await runAsDataDir(runAs, flags.runAs ? '--run-as' : 'runAs') };
  const dataDir = dataDirOf(flags.dataDir, config);
  // Only a data directory this start makes is given to the run-as user (see handOver); made now, so
  // that whether it made it and making it are one step. A start that fails removes it if left empty.
  // A worker's primary made the data directory and settles a start that fails.
  const dataDirClaim: DataDirClaim = worker
    ? { dir: dataDir }
    : await claimDataDir(dataDir).catch((err: unknown) => {
        throw new FerryError('ERR_USAGE', `dataDir ${dataDir} cannot be created: ${(err as Error).message}`);
      });
  const leftovers = worker ? undefined : new StartLeftovers(dataDirClaim, runAs, stateFiles(dataDir));
  try {
    return await start({
      flags,
      signals,
      worker,
      fromPrimary,
      config,
      workers,
      runAs,
      dataDir,
      dataDirClaim,
      leftovers,
    });
  } catch (err) {
    await leftovers?.settle();
    throw err;
  }
}

interface Start {
  readonly flags: ServeFlags;
  readonly signals: ServeSignals;
  readonly worker: number | undefined;
  readonly fromPrimary: Awaited<ReturnType<typeof receiveSettings>> | undefined;
  readonly config: FileConfig;
  readonly workers: number;
  readonly runAs: SystemUser | undefined;
  readonly dataDir: string;
  readonly dataDirClaim: DataDirClaim;
  readonly leftovers: StartLeftovers | undefined;
}

async function start(s: Start): Promise<void> {
  const { flags, signals, worker, fromPrimary, config, workers, runAs, dataDir, leftovers } = s;
  const adminListen = flags.adminListen ?? config.admin?.listen;
  const admin = adminListen
    ? parseHostPort(adminListen, flags.adminListen ? '--admin-listen' : `${flags.config}: admin.listen`)
    : undefined;
  // The banner and messages on stderr are for whoever started the server: when nobody reads them any
  // more (a closed pipe), the server goes on serving.
  process.stderr.on('error', () => {});
  // Workers get the logins from the primary: the same ones everywhere (a generated password too).
  const root = createServerLogger(flags.logLevel ?? config.logLevel ?? 'info');
  const logger = worker ? root.child({ worker }) : root;
  // The server's metrics and the process's (memory, CPU, event loop) on a registry of our own. The
  // process metrics only when someone can read them (the admin listener): their event-loop monitor
  // wakes every process 100 times a second.
  const registry = new Registry();
  if (admin) collectDefaultMetrics({ register: registry });
  const xferlogPath = flags.xferlog ?? config.xferlog;
  const xferlog = xferlogPath ? new XferlogFile(path.resolve(xferlogPath), logger) : undefined;
  if (xferlog) leftovers?.keepLog((uid, gid) => xferlog.giveTo(uid, gid));
  const extra = { logger, metrics: registry, onTransfer: xferlog?.write };
  // Each worker watches the users file itself, so every process follows its changes.
  const verify = countedVerify(registry);
  const hashCost = hashCostOf(process.env);
  // A hash keeps the cost it was made with: a test setting left in a real server's environment
  // would weaken every password set or upgraded from now on, so it is said at start.
  if (!worker && hashCost !== DEFAULT_SCRYPT_COST) {
    logger.warn(
      { [HASH_COST_ENV]: process.env[HASH_COST_ENV] },
      'weak password hashes: a test setting is set',
    );
  }
  const setting = serveSetup(flags, config, fromPrimary, logger, { env: awsEnv(), verify, hashCost });
  // The set-up may wait on the database (a hung host accepts and never answers): a stop then ends
  // the start (a worker's stop is the primary's to decide, once it serves).
  const setUp = worker ? { done: await setting } : await signals.unlessStopped(setting);
  if (!('done' in setUp)) {
    logger.info({ signal: setUp.stopped }, 'stopped while starting');
    await leftovers?.settle();
    await endServerLog(root);
    return process.exit(0);
  }
  const setup = setUp.done;
  setup.follow();
  const hosts = setup.hosts;
  const options: ServerOptions = { ...setup.options, ...extra };
  let running: Running = { config, setup };
  const sweeper = new UploadSweeper(
    () => running.setup.users.accounts.flatMap(localRoots),
    logger,
    (dirs) => recountUsageIn(dirs, running.setup, logger),
  );
  const recounts = new UsageRecounts(
    () => ({
      ledger: running.setup.limits.usage?.ledger,
      lookup: (name) => running.setup.users.lookup(name),
      tree: (a) => countedTree(a, running.setup.storage, running.setup.storage),
    }),
    logger,
  );
  let server: FerryServer | ClusterPrimary;
  try {
    if (worker) {
      const ferry = new FerryServer(options);
      const ctx: ReloadContext = {
        flags,
        server: ferry,
        logger,
        extra,
        xferlog,
        worker: true,
        verify,
        hashCost,
      };
      const shared = setup.shared;
      return await runWorker(ferry, {
        signals,
        ...(shared ? { sessions: shared.sessions } : {}),
        // Before the worker exits: the quota usage file, the database state, then the log's held lines.
        close: async () => {
          await running.setup.close();
          await shared?.close();
          await endServerLog(root);
        },
        // The primary's certificates: a key only root may read is read once, by the primary.
        certificates: fromPrimary?.certificates,
        beforeReady: () => runAs && dropPrivileges(runAs),
        reload: async (data, certificates) => {
          if (data === undefined) {
            // The primary kept its configuration (the file did not validate): logs reopen all the
            // same; its certificates are the ones served here, so nothing is reloaded (nor logged as
            // reloaded, beside the primary's "reload failed").
            xferlog?.reopen();
            if (!certificates || ferry.serves(certificates)) {
              logger.debug({}, 'configuration kept: the primary rejected the reload');
              return ferry.fingerprints;
            }
            return ferry.reloadCertificates(certificates);
          }
          const next = await reloadConfiguration(ctx, running, { data, certificates });
          if (next === running) throw new Error('the configuration was not reloaded (see the log)');
          running = next;
          return ferry.fingerprints;
        },
      });
    }
    server =
      workers > 1
        ? new ClusterPrimary(options, {
            workers,
            fork: forkWorker,
            init: settingsFor(setup.users, config),
            // Its uploads' temp files are stale now (their pid is dead): swept as at a start. Its
            // users' usage may miss a change it made and had not recorded yet: counted again.
            crashed: (index, users) => {
              sweeper.run();
              recounts.run(users, `worker ${index} died`);
            },
          })
        : new FerryServer(options);
    // One descriptor per idle session (more while transferring): before the workers are forked.
    raiseOpenFilesLimit(resolveOptions(options).limits.maxSessions, logger);
    // Per-user session limits across nodes: leases in the database.
    if (setup.shared && server instanceof FerryServer) server.countUserSessionsWith(setup.shared.sessions);
  } catch (err) {
    throw setup.explain(err);
  }

  let state: 'starting' | 'ready' | 'stopping' = 'starting';
  const ferry = server;
  const adminServer = admin
    ? await AdminServer.open(
        { ...admin, token: config.admin?.token, logger },
        {
          metrics: async () => {
            const r = ferry instanceof ClusterPrimary ? await ferry.clusterMetrics() : registry;
            return { text: await r.metrics(), contentType: r.contentType };
          },
          accepting: () => ferry.accepting,
          sessions: async () =>
            ferry instanceof ClusterPrimary
              ? ferry.clusterSessions()
              : { sessions: ferry.sessions(), missingWorkers: [] },
          closeSession: async (id, by) =>
            ferry instanceof ClusterPrimary
              ? ferry.kick({ ids: [id] }, by)
              : { ended: ferry.kick({ ids: [id] }, by), missingWorkers: [] },
          // Workers all restarting: connections are turned away, take the node out of the pool.
          ready: () => state === 'ready' && (!(ferry instanceof ClusterPrimary) || ferry.serving),
        },
      )
    : undefined;
  // What it serves too, and again as the accounts change (the users file, a reload): once it serves.
  const homeAccess = runAs ? new HomeAccessWatch(runAs, logger) : undefined;
  // Exits once stopped; a start it interrupts (listen() undoes itself) waits for it.
  let shutdown: Promise<never> | undefined;
  let marked = false;
  const stop = (signal: string): void => {
    sweeper.stop();
    recounts.stop();
    homeAccess?.stop();
    state = 'stopping';
    if (shutdown) {
      server.destroy();
      return;
    }
    const graceSeconds = (running.setup.options.timeouts?.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS) / 1000;
    logger.info({ signal, graceSeconds }, 'shutting down');
    shutdown = server.close().then(async () => {
      await adminServer?.close();
      await xferlog?.close();
      await running.setup.users.store.close();
      await running.setup.shared?.close();
      await running.setup.close();
      await leftovers?.settle(); // stopped before it served
      // A clean stop, unless usage.json may still be off: a recount not done, a change not written.
      const ledger = running.setup.limits.usage?.ledger;
      const unwritten = ledger instanceof UsageFile && ledger.pending.size > 0;
      if (marked && recounts.complete && !unwritten) await unmarkServing(dataDir);
      await endServerLog(root);
      return process.exit(0);
    });
  };
  // From here on, as while it serves: one that came while it started (set-up) stops it now.
  signals.onStop(stop);
  const started = await server.listen().catch(async (err: unknown) => {
    if (shutdown) return shutdown;
    await adminServer?.close();
    throw setup.explain(err); // a passive host name that does not resolve: named as the user wrote it
  });
  if (runAs && !shutdown) await becomeRunAsUser(runAs, s.dataDirClaim, xferlog);
  if (shutdown) return shutdown;
  leftovers?.served();
  state = 'ready';
  const certWarnings = await tlsWarnings(options.tls ?? {});
  const configWarning = flags.config && (await configSecretsWarning(path.resolve(flags.config), config));
  if (configWarning) certWarnings.push(configWarning);
  for (const w of certWarnings) logger.warn(w);
  const usersFile = databaseUrlOf(config) ? undefined : usersFileOf(flags.dataDir, config);
  const runAsProblems = runAs
    ? await runAsWarnings(runAs, {
        config: flags.config && path.resolve(flags.config),
        tlsFiles: [
          ...(options.tls?.certificates ?? []).flatMap((c) => [c.certFile, c.keyFile]),
          ...(options.tls?.clientCaFiles ?? []),
          ...(options.tls?.clientCrlFiles ?? []),
        ],
        usersFile,
        dataDir,
      })
    : [];
  // Without runAs this process is the server's user (systemd's User=): it checks its users file.
  const ownUsersDir = !runAs && usersFile ? await usersDirWarning(currentUserName(), usersFile) : undefined;
  if (ownUsersDir) runAsProblems.push(ownUsersDir);
  runAsProblems.push(...((await homeAccess?.follow(running.setup.users)) ?? []));
  for (const w of runAsProblems) logger.warn(w);
  const plainWarning = plainWithoutDataWarning(options);
  if (plainWarning) logger.warn(plainWarning);

  sweeper.run();
  // The last server here died: usage.json may miss changes it made and had not recorded (the
  // database's uploads are charged as their bytes come: its cut uploads are the sweep's).
  marked = await markServing(dataDir).then(
    (unclean) => {
      if (unclean && !running.setup.shared)
        recounts.run(withQuota(running.setup.users.accounts), 'an unclean stop');
      return true;
    },
    (err: unknown) => {
      logger.warn({ dataDir, err: (err as Error).message }, 'could not mark the data directory served');
      return false;
    },
  );

  // Reloads run one after the other: a second SIGHUP waits for the first to finish.
  const ctx: ReloadContext = { flags, server, logger, extra, xferlog, verify, hashCost };
  let reloading = Promise.resolve();
  const reload = (): void => {
    reloading = reloading.then(async () => {
      const before = running;
      running = await reloadConfiguration(ctx, running);
      if (homeAccess && running !== before)
        for (const w of await homeAccess.follow(running.setup.users)) logger.warn(w);
    });
  };
  // A SIGHUP that came while it started (logrotate after a restart) reloads once, now: the file
  // or the certificates may have changed after they were read.
  if (signals.onReload(reload)) logger.info({}, 'SIGHUP came during the start: reloading now');
  // Printed last: whoever waits for the banner may signal at once, and the handlers are in place.
  const lines = ['Ferry FTPS server', ...servingLines(setup.users)];
  lines.push(
    `  users     ${setup.users.store.where} (${setup.users.stored} ${setup.users.stored === 1 ? 'user' : 'users'}; 'ferry users' edits it)`,
  );
  // One URL per listen address (the same port on each).
  const urls = (scheme: string, port: number): string =>
    hosts.map((h) => listenUrl(scheme, h, port, hosts)).join(', ');
  if (started.explicit)
    lines.push(`  explicit  ${urls('ftpes', started.explicit.port)}  (AUTH TLS / AUTH SSL)`);
  if (started.implicit) lines.push(`  implicit  ${urls('ftps', started.implicit.port)}`);
  lines.push(
    `  certificate SHA-256 ${started.fingerprints.join(', ')}${started.generatedCertificate ? ' (self-signed, generated now)' : ''}`,
  );
  for (const w of [...certWarnings, ...runAsProblems]) lines.push(`  WARNING   ${w}`);
  if (server instanceof ClusterPrimary)
    lines.push(`  workers   ${workers} processes (pids ${server.workerPids.join(', ')})`);
  if (adminServer) {
    const a = adminServer.address;
    const where = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    lines.push(`  admin     http://${where}:${a.port}/metrics  (/healthz, /readyz, /sessions)`);
  }
  if (runAs) lines.push(`  running as ${runAs.name} (uid ${runAs.uid}, gid ${runAs.gid})`);
  const generated = setup.users.generated;
  if (generated) lines.push(`  login     user ${generated.name}  password ${generated.password}`);
  lines.push(`  ${tlsPolicyLine(options)}`);
  if (plainWarning) lines.push(`  WARNING   ${plainWarning}`);
  lines.push('  Ctrl-C stops (graceful); SIGHUP reloads the configuration.');
  process.stderr.write(lines.join('\n') + '\n');
}

/** What the banner says of TLS: the defaults, or each way around it this server allows. */
export function tlsPolicyLine(
  o: Pick<ServerOptions, 'allowPlainControl' | 'allowClearData' | 'allowCcc'>,
): string {
  const relaxed = [
    o.allowPlainControl ? 'login without TLS (allow-plain)' : '',
    o.allowClearData ? 'data without TLS, PROT C (allow-clear-data)' : '',
    o.allowCcc ? 'a control connection cleared by CCC after login (allow-ccc)' : '',
  ].filter((s) => s !== '');
  if (relaxed.length === 0) return 'TLS is required for login and data.';
  return `TLS is NOT required everywhere: allowed are ${relaxed.join('; ')}.`;
}

/**
 * Login without TLS but data only with it: a plain-FTP client logs in, then every listing and
 * transfer is refused (it cannot send PROT P without TLS). Not an error (a client may still do
 * AUTH TLS after all), but rarely what was meant.
 */
export function plainWithoutDataWarning(
  o: Pick<ServerOptions, 'allowPlainControl' | 'allowClearData'>,
): string | undefined {
  if (!o.allowPlainControl || o.allowClearData) return undefined;
  return 'allow-plain without allow-clear-data: clients without TLS can log in but not list or transfer (data connections need TLS); add --allow-clear-data (allowClearData) for plain FTP.';
}

/**
 * Ports bound, certificates read: hand Ferry's own state files (and its data directory, when this
 * start made it) and the transfer log over, then drop root.
 */
async function becomeRunAsUser(
  user: SystemUser,
  data: DataDirClaim,
  xferlog: XferlogFile | undefined,
): Promise<void> {
  await handOver(stateFiles(data.dir), data, user);
  xferlog?.giveTo(user.uid, user.gid);
  dropPrivileges(user);
}

/** The names of the accounts with a quota. */
const withQuota = (accounts: readonly Account[]): string[] =>
  accounts.filter((a) => a.quotaSize || a.quotaFiles).map((a) => a.username);

/** What Ferry keeps in its data directory: the generated certificate, users, bans, quota usage. */
function stateFiles(dataDir: string): string[] {
  const { certFile, keyFile } = selfSignedFiles(dataDir);
  const { stateFile, controlSocket } = defenderPaths(dataDir);
  return [
    certFile,
    keyFile,
    path.join(dataDir, 'users.yaml'),
    stateFile,
    controlSocket,
    usageFileOf(dataDir),
    servingMarkOf(dataDir),
    cutUploadsFileOf(dataDir),
  ];
}

/** Where the users live: one line per home (with its users), or a summary when there are many. */
function servingLines(users: ServeUsers): string[] {
  const byHome = new Map<string, string[]>();
  for (const u of users.accounts) {
    const home = u.home === '' ? 'the default storage (storage.s3)' : u.home;
    const names = byHome.get(home) ?? [];
    const name = u.anonymous ? 'anonymous FTP' : u.username;
    names.push(u.readOnly ? `${name}, read-only` : name);
    byHome.set(home, names);
  }
  if (users.generated) return [`  serving   ${[...byHome.keys()][0] ?? ''}`];
  if (byHome.size > 5) {
    return [
      `  serving   ${users.accounts.length} users in ${byHome.size} homes under ${commonParent([...byHome.keys()])}`,
    ];
  }
  return [...byHome].map(([home, names]) => `  serving   ${home}  (${names.join('; ')})`);
}

function commonParent(dirs: string[]): string {
  let parent = path.dirname(dirs[0] ?? '/');
  while (!dirs.every((d) => d === parent || d.startsWith(parent === '/' ? '/' : `${parent}/`))) {
    parent = path.dirname(parent);
  }
  return parent;
}

/**
 * Password verification as the login cache does it when the cache cannot answer, counted
 * (ferry_password_hashes_total): each is a deliberately slow scrypt, so the count shows whether
 * the cache spares repeated logins their cost (in every worker).
 */
function countedVerify(
  registry: Registry,
): (plain: string, encoded: string, signal?: AbortSignal) => Promise<boolean> {
  const hashes = new Counter({
    name: 'ferry_password_hashes_total',
    help: 'Passwords checked by computing their hash (scrypt): logins the login cache did not answer',
    registers: [registry],
  });
  return (plain, encoded, signal) => {
    hashes.inc();
    return verifyPassword(plain, encoded, signal);
  };
}
