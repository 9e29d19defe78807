// `ferry serve` started by its CLI, as a user would, the way the shared harness expects it: the
// harness's data/ as the root, user bench/bench, the harness's certificate. Used by compare.mjs and
// scaling.mjs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { ROOT } from './paths.mjs';

/**
 * Starts Ferry and resolves once its banner is printed. `port` is the implicit port (explicit:
 * port + 1); `pasv` a range "A-B" (undefined: any free port); `args` more flags.
 */
export async function startFerry(w, { port, pasv, dataDir, args = [] }) {
  const argv = [
    '--max-semi-space-size=4', // as the `ferry` command, `npm start` and the systemd unit run it
    path.join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    'serve',
    '--allow-root', // the harness runs as root
    '--root',
    path.join(w, 'data'),
    '--listen',
    '127.0.0.1',
    '--implicit-port',
    String(port),
    '--explicit-port',
    String(port + 1),
    ...(pasv ? ['--pasv-ports', pasv] : []),
    '--user',
    'bench:bench',
    '--cert',
    path.join(w, '.state', 'cert.pem'),
    '--key',
    path.join(w, '.state', 'key.pem'),
    '--allow-clear-data',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    ...args,
  ];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let banner = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ferry serve gave no banner in 60 s:\n${banner}`)),
      60_000,
    );
    child.stderr.on('data', (d) => {
      banner += d;
      if (banner.includes('Ctrl-C stops')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry serve exited (${code}):\n${banner}`));
    });
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.stderr.resume();
  return child;
}

/** SIGTERM (graceful), SIGKILL after 15 s; resolves once it has exited. */
export async function stopFerry(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
