import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { hashPassword } from '../auth/password.js';
import { UserTable, type UserEntry } from '../auth/users.js';
import type { ServerOptions } from '../server/options.js';
import { defaultPorts } from '../server/options.js';
import { ClusterPrimary } from '../server/cluster/primary.js';
import { FerryServer } from '../server/server.js';
import { LocalStorage } from '../storage/local.js';
import { assertFdPathsAvailable } from '../storage/fd-jail.js';
import { sweepStaleUploads } from '../storage/upload-temp.js';
import { loadConfig, parsePortRange, type FileConfig } from './config.js';
import { FerryError } from '../errors.js';
import { forkWorker, receiveUsers, runWorker, workerCount, workerIndex } from './workers.js';

interface ServeFlags {
  config?: string;
  root?: string;
  listen?: string;
  explicitPort?: string;
  implicitPort?: string;
  pasvPorts?: string;
  pasvAddress?: string;
  user: string[];
  cert: string[];
  key: string[];
  allowClearData?: boolean;
  allowCcc?: boolean;
  allowPlain?: boolean;
  tlsMin?: string;
  requireReuse: boolean;
  dataDir?: string;
  logLevel?: string;
  workers?: string;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the FTPS server (explicit and implicit listeners; TLS required by default)')
    .option('--config <file>', 'YAML config file (flags override it)')
    .option('--root <dir>', 'directory served to the default user (default: the current directory)')
    .option('--listen <addr>', 'address to listen on (default :: = IPv6 and IPv4)')
    .option('--explicit-port <n>', 'explicit FTPS port, 0 = off (default 21, or 2121 when not root)')
    .option('--implicit-port <n>', 'implicit FTPS port, 0 = off (default 990, or 9990 when not root)')
    .option('--pasv-ports <a-b>', 'passive port range, e.g. 50000-50100 (default: any free port)')
    .option('--pasv-address <ip>', 'address announced in PASV replies (for NAT)')
    .option('--user <name:password>', 'add a login (repeatable; for tests and scripts)', collect, [])
    .option('--cert <file>', 'certificate PEM (repeatable: RSA and ECDSA)', collect, [])
    .option('--key <file>', 'private key PEM matching each --cert', collect, [])
    .option('--allow-clear-data', 'allow PROT C (unencrypted data connections)')
    .option('--allow-ccc', 'allow CCC (control connection back to clear text after login)')
    .option('--allow-plain', 'allow login without TLS on the explicit port (plain FTP)')
    .option('--tls-min <version>', 'minimum TLS version: TLSv1, TLSv1.1, TLSv1.2 (default), TLSv1.3')
    .option('--no-require-reuse', 'do not require data connections to resume the control TLS session')
    .option('--data-dir <dir>', 'where the generated certificate is kept (default ~/.ferry)')
    .option('--log-level <level>', 'debug, info (default), warn, error, silent')
    .option(
      '--workers <n>',
      'worker processes sharing the listeners (default: one per core; 1 = one process)',
    )
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

function portFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new FerryError('ERR_USAGE', `--${name}: expected a port number 0-65535 (0 = off), got "${v}".`);
  }
  return n;
}

async function usersFrom(
  flags: ServeFlags,
  config: FileConfig,
  root: string,
): Promise<{ entries: UserEntry[]; homes: string[]; generated?: { name: string; password: string } }> {
  const entries: UserEntry[] = (config.users ?? []).map((u) => ({
    username: u.name,
    passwordHash: u.passwordHash,
    home: u.home,
    readOnly: u.readOnly,
  }));
  for (const spec of flags.user) {
    const i = spec.indexOf(':');
    if (i <= 0)
      throw new FerryError(
        'ERR_USAGE',
        `--user: expected NAME:PASSWORD, got "${spec.slice(0, Math.max(i, 0))}…".`,
      );
    entries.push({
      username: spec.slice(0, i),
      passwordHash: await hashPassword(spec.slice(i + 1)),
      home: root,
    });
  }
  const homes = [...new Set(entries.map((e) => path.resolve(e.home)))];
  if (entries.length > 0) return { entries, homes };
  // No users configured: one login for this run, printed once for the operator.
  const password = randomBytes(12).toString('base64url');
  return {
    entries: [{ username: 'ferry', passwordHash: await hashPassword(password), home: root }],
    homes: [root],
    generated: { name: 'ferry', password },
  };
}

async function serve(flags: ServeFlags): Promise<void> {
  assertFdPathsAvailable(); // the jail needs /proc/self/fd: refuse to start rather than serve without it
  const config = flags.config ? await loadConfig(flags.config) : {};
  const root = path.resolve(flags.root ?? config.root ?? process.cwd());
  const logger = pino({ level: flags.logLevel ?? config.logLevel ?? 'info' });
  const host = flags.listen ?? config.listen ?? '::';
  const ports = defaultPorts();
  const explicitPort = portFlag(flags.explicitPort, 'explicit-port') ?? config.explicitPort ?? ports.explicit;
  const implicitPort = portFlag(flags.implicitPort, 'implicit-port') ?? config.implicitPort ?? ports.implicit;
  if (flags.cert.length !== flags.key.length)
    throw new FerryError('ERR_USAGE', 'Give one --key for each --cert.');
  const certificates = [
    ...(config.certificates ?? []).map((c) => ({ certFile: c.cert, keyFile: c.key })),
    ...flags.cert.map((certFile, i) => ({
      certFile: path.resolve(certFile),
      keyFile: path.resolve(flags.key[i] ?? ''),
    })),
  ];
  const pasv = flags.pasvPorts ?? config.passivePorts;
  const worker = workerIndex();
  const workers = workerCount(flags.workers, config.workers);
  // Workers get the logins from the primary: the same ones everywhere (a generated password too).
  const users = worker
    ? { entries: await receiveUsers(), homes: [], generated: undefined }
    : await usersFrom(flags, config, root);
  const options: ServerOptions = {
    explicit: explicitPort === 0 ? false : { host, port: explicitPort },
    implicit: implicitPort === 0 ? false : { host, port: implicitPort },
    authenticator: new UserTable(users.entries),
    storageFor: (p) => new LocalStorage({ root: p.home, readOnly: p.readOnly }),
    tls: {
      certificates,
      dataDir: path.resolve(flags.dataDir ?? config.dataDir ?? path.join(os.homedir(), '.ferry')),
      minVersion: (flags.tlsMin ?? config.tlsMinVersion) as NonNullable<ServerOptions['tls']>['minVersion'],
      requireSessionReuse: flags.requireReuse === false ? false : (config.requireSessionReuse ?? true),
    },
    allowClearData: flags.allowClearData ?? config.allowClearData,
    allowCcc: flags.allowCcc ?? config.allowCcc,
    allowPlainControl: flags.allowPlain ?? config.allowPlainControl,
    passive: {
      ...(pasv ? parsePortRange(pasv, '--pasv-ports') : {}),
      address: flags.pasvAddress ?? config.passiveAddress,
    },
    timeouts: config.idleTimeoutSeconds ? { idleMs: config.idleTimeoutSeconds * 1000 } : undefined,
    limits: { maxSessions: config.maxSessions, maxSessionsPerAddress: config.maxSessionsPerAddress },
    logger: worker ? logger.child({ worker }) : logger,
  };
  if (worker) return runWorker(new FerryServer(options));
  const server =
    workers > 1
      ? new ClusterPrimary(options, { workers, fork: forkWorker, init: users.entries })
      : new FerryServer(options);
  const started = await server.listen();

  const lines = ['Ferry FTPS server', `  serving   ${root}`];
  if (started.explicit)
    lines.push(`  explicit  ftpes://${hostFor(host)}:${started.explicit.port}  (AUTH TLS / AUTH SSL)`);
  if (started.implicit) lines.push(`  implicit  ftps://${hostFor(host)}:${started.implicit.port}`);
  lines.push(
    `  certificate SHA-256 ${started.fingerprints.join(', ')}${started.generatedCertificate ? ' (self-signed, generated now)' : ''}`,
  );
  if (server instanceof ClusterPrimary)
    lines.push(`  workers   ${workers} processes (pids ${server.workerPids.join(', ')})`);
  if (users.generated)
    lines.push(`  login     user ${users.generated.name}  password ${users.generated.password}`);
  lines.push('  TLS is required for login and data. Ctrl-C stops (graceful); SIGHUP reloads certificates.');
  process.stderr.write(lines.join('\n') + '\n');

  const sweep = new AbortController();
  void sweepHomes(users.homes, sweep.signal, logger);

  let stopping = false;
  const stop = (signal: string): void => {
    sweep.abort();
    if (stopping) {
      server.destroy();
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    server
      .reloadCertificates()
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'certificate reload failed'));
  });
}

/**
 * Upload temp files left by a server that was killed mid-upload are removed in the background,
 * one home after the other, so a huge tree never delays the start (live uploads are kept).
 */
async function sweepHomes(homes: string[], signal: AbortSignal, logger: pino.Logger): Promise<void> {
  for (const home of homes) {
    try {
      const removed = await sweepStaleUploads(home, signal);
      logger.info({ home, removed }, 'stale upload temp files removed');
    } catch (err) {
      logger.warn({ home, err: (err as Error).message }, 'could not sweep stale upload temp files');
    }
  }
}

function hostFor(listen: string): string {
  if (listen === '::' || listen === '0.0.0.0') return 'localhost';
  return listen.includes(':') ? `[${listen}]` : listen;
}
