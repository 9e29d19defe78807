#!/usr/bin/env -S node --max-semi-space-size=4
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { FerryError } from '../errors.js';

/** The client commands (registerClientCommands); they run without loading the server's modules. */
const CLIENT_COMMANDS = new Set(['ls', 'get', 'put', 'cat', 'mirror', 'rm', 'mkdir', 'mv', 'chmod', 'quote']);

/**
 * A client command and `probe` load only the client (each one bundled file: client-bundle.ts), and
 * `serve` only the server: the server side (pino, prom-client, pg, the S3 SDK…) costs most of a
 * second of CPU to load, as much as transferring a few hundred MiB; and what a server process loads
 * stays in its memory, in each worker too (they run this file): the client and the probe took 1-3
 * MB of each process's RSS.
 */
const args = process.argv.slice(2);
const first = args.find((a) => !a.startsWith('-'));
const client = (): Promise<typeof import('./client-bundle.js')> => import('./client-bundle.js');

/**
 * Commander: a client command takes the copy bundled in client-bundle.js (one module instead of
 * commander's eight through the CommonJS loader: ~25 ms less CPU at start), `serve` the one in
 * serve-bundle.js, an admin command admin-bundle.js's; `probe` and `--version` the package.
 * The program and the CommanderError it throws come from the same copy (the check below).
 */
type Commander = Pick<typeof import('commander'), 'Command' | 'CommanderError'>;
const clientCommand = first !== undefined && CLIENT_COMMANDS.has(first);

/**
 * The first line's --max-semi-space-size=4 is for a serving process, but any V8 flag makes V8 refuse
 * Node's built-in code cache, so each Node module the client loads after start (tls, net, crypto,
 * streams…) was compiled from source: ~25 ms more CPU per `ferry get`/`put`. Set back to V8's
 * default before the client loads, the cache is taken again; the heap keeps the size it was made
 * with (V8 reads the flag only when it makes a heap), so only the start changes.
 */
if (clientCommand || first === 'probe') setFlagsFromString('--max-semi-space-size=0');

/** The only place that reads argv and decides exit codes for the server side. */
function createProgram({ Command }: Commander): Command {
  return new Command('ferry')
    .description('Ferry: FTPS server and client (implicit and explicit FTPS, MS-FTPS / RFC 4217)')
    .version('0.1.0')
    .exitOverride();
}

/** Makes the program with the command asked for, loading only its modules. */
async function load(): Promise<{ program: Command; commander: Commander; admin: boolean }> {
  if (clientCommand) {
    const bundle = await client();
    const program = createProgram(bundle);
    bundle.registerClientCommands(program);
    return { program, commander: bundle, admin: false };
  }
  const version = first === undefined && args.some((a) => a === '--version' || a === '-V');
  if (first === 'serve') {
    // Before the server's modules load (most of a second): a SIGHUP then would kill the process.
    // Imported here: the client commands load nothing they do not use.
    const signals = new (await import('./serve-signals.js')).ServeSignals();
    const bundle = await import('./serve-bundle.js'); // with its commander (serve.ts's export)
    const program = createProgram(bundle);
    bundle.registerServe(program, signals);
    return { program, commander: bundle, admin: false };
  }
  if (first === 'probe' || version) {
    const commander = await import('commander');
    const program = createProgram(commander);
    // The version needs no command: loading them all took most of a second.
    if (!version) (await import('./probe-bundle.js')).registerProbe(program);
    return { program, commander, admin: false };
  }
  // An admin command loads only its own modules (admin-bundle.ts): with all of them (the server,
  // the client and the probe) `ferry users show` took 0.87 s of CPU instead of 0.53 s, paid by each
  // script that runs it, and by the tests, which run these commands hundreds of times.
  const bundle = await import('./admin-bundle.js');
  const program = createProgram(bundle);
  const admin = first === undefined ? undefined : bundle.ADMIN_COMMANDS.get(first);
  if (admin) (await admin())(program);
  else {
    const [serve, probe, clientCommands, ...adminCommands] = await Promise.all([
      import('./serve-bundle.js'),
      import('./probe-bundle.js'),
      client(),
      ...[...bundle.ADMIN_COMMANDS.values()].map((register) => register()),
    ]);
    serve.registerServe(program);
    for (const register of adminCommands) register(program);
    clientCommands.registerClientCommands(program);
    probe.registerProbe(program);
  }
  return { program, commander: bundle, admin: admin !== undefined };
}

/** The open-files limit, read before loading: once a load failed for it, no file may open. */
function openFilesLimit(): string {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? ` (${m[1]}, hard limit ${m[2]})` : '';
  } catch {
    return ''; // not Linux, or no /proc: the message goes without the numbers
  }
}

/**
 * The ESM loader opens a command's modules (a bundle's chunks for `serve`) many at once: under a low
 * open-files limit that fails with EMFILE and Node's loader stack. One line instead, with the limit.
 */
function tooFewFiles(limit: string): (err: unknown) => never {
  return (err) => {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (code !== 'EMFILE' && code !== 'ENFILE') throw err;
    process.stderr.write(
      `ferry: too many open files (${code}) while loading Ferry: the open-files limit${limit} is too low; raise it (ulimit -n, systemd LimitNOFILE=)\n`,
    );
    process.exit(1);
  };
}

// Read before the loader starts opening modules: once it has, a low limit may leave no descriptor
// for /proc/self/limits, and the line would go without the numbers.
const limit = openFilesLimit();
const { program, commander, admin } = await load().catch(tooFewFiles(limit));

// The admin commands' output read by a pipe that closes early (`ferry users list | head -1`): done,
// quietly, as ls is (Node ignores SIGPIPE, so the write fails with EPIPE instead).
if (admin)
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof commander.CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ferry: ${message}\n`);
  const usage = err instanceof FerryError && (err.code === 'ERR_USAGE' || err.code === 'ERR_INVALID_OPTION');
  process.exit(usage ? 2 : 1);
}
