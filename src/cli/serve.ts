import path from 'node:path';
import type { Command } from 'commander';
import type { ServerOptions } from '../server/options.js';
import { ClusterPrimary } from '../server/cluster/primary.js';
import { FerryServer } from '../server/server.js';
import { assertFdPathsAvailable } from '../storage/fd-jail.js';
import { sweepStaleUploads } from '../storage/upload-temp.js';
import { loadConfig } from './config.js';
import { createServerLogger } from './log-destination.js';
import type { Logger } from '../logger.js';
import { serveSetup, type ServeFlags, type ServeUsers } from './serve-options.js';
import { forkWorker, receiveUsers, runWorker, workerCount, workerIndex } from './workers.js';

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
    .option(
      '--client-ca <file>',
      'CA (PEM) whose client certificates log users in by CN (repeatable; see ferry users --cert-login)',
      collect,
      [],
    )
    .option('--allow-clear-data', 'allow PROT C (unencrypted data connections)')
    .option('--allow-ccc', 'allow CCC (control connection back to clear text after login)')
    .option('--allow-plain', 'allow login without TLS on the explicit port (plain FTP)')
    .option('--tls-min <version>', 'minimum TLS version: 1.0, 1.1, 1.2 (default) or 1.3 (or TLSv1.2, …)')
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

async function serve(flags: ServeFlags): Promise<void> {
  assertFdPathsAvailable(); // the jail needs /proc/self/fd: refuse to start rather than serve without it
  const config = flags.config ? await loadConfig(flags.config) : {};
  const worker = workerIndex();
  const workers = workerCount(flags.workers, config.workers);
  // Workers get the logins from the primary: the same ones everywhere (a generated password too).
  const root = createServerLogger(flags.logLevel ?? config.logLevel ?? 'info');
  const logger = worker ? root.child({ worker }) : root;
  // Each worker watches the users file itself, so every process follows its changes.
  const setup = await serveSetup(flags, config, worker ? await receiveUsers() : undefined, logger);
  const host = setup.host;
  const options: ServerOptions = { ...setup.options, logger };
  let server: FerryServer | ClusterPrimary;
  try {
    if (worker) return await runWorker(new FerryServer(options));
    server =
      workers > 1
        ? new ClusterPrimary(options, { workers, fork: forkWorker, init: setup.users.entries })
        : new FerryServer(options);
  } catch (err) {
    throw setup.explain(err);
  }
  const started = await server.listen();

  const sweep = new AbortController();
  void sweepHomes([...new Set(setup.users.homes.map((u) => path.resolve(u.home)))], sweep.signal, logger);

  let stopping = false;
  const stop = (signal: string): void => {
    sweep.abort();
    if (stopping) {
      server.destroy();
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void server.close().then(() => {
      setup.users.file.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    server
      .reloadCertificates()
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'certificate reload failed'));
  });
  // Printed last: whoever waits for the banner may signal at once, and the handlers are in place.
  const lines = ['Ferry FTPS server', ...servingLines(setup.users)];
  lines.push(`  users     ${setup.users.file.file} (${setup.users.file.size} users; 'ferry users' edits it)`);
  if (started.explicit)
    lines.push(`  explicit  ftpes://${hostFor(host)}:${started.explicit.port}  (AUTH TLS / AUTH SSL)`);
  if (started.implicit) lines.push(`  implicit  ftps://${hostFor(host)}:${started.implicit.port}`);
  lines.push(
    `  certificate SHA-256 ${started.fingerprints.join(', ')}${started.generatedCertificate ? ' (self-signed, generated now)' : ''}`,
  );
  if (server instanceof ClusterPrimary)
    lines.push(`  workers   ${workers} processes (pids ${server.workerPids.join(', ')})`);
  const generated = setup.users.generated;
  if (generated) lines.push(`  login     user ${generated.name}  password ${generated.password}`);
  lines.push('  TLS is required for login and data. Ctrl-C stops (graceful); SIGHUP reloads certificates.');
  process.stderr.write(lines.join('\n') + '\n');
}

/**
 * Upload temp files left by a server that was killed mid-upload are removed in the background,
 * one home after the other, so a huge tree never delays the start (live uploads are kept).
 */
async function sweepHomes(homes: string[], signal: AbortSignal, logger: Logger): Promise<void> {
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

/** Where the users live: one line per home (with its users), or a summary when there are many. */
function servingLines(users: ServeUsers): string[] {
  const byHome = new Map<string, string[]>();
  for (const u of users.homes) {
    const names = byHome.get(u.home) ?? [];
    names.push(u.readOnly ? `${u.name}, read-only` : u.name);
    byHome.set(u.home, names);
  }
  if (users.generated) return [`  serving   ${[...byHome.keys()][0] ?? ''}`];
  if (byHome.size > 5) {
    return [
      `  serving   ${users.homes.length} users in ${byHome.size} homes under ${commonParent([...byHome.keys()])}`,
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
