// The shared benchmark harness (../shared/bench): where it is, where it keeps its files, and the
// peers it starts (`peer env NAME`).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

/** The shared harness: $FERRY_BENCH_HARNESS, else shared/bench in a folder above the repository. */
export function findHarness() {
  const candidates = process.env.FERRY_BENCH_HARNESS
    ? [process.env.FERRY_BENCH_HARNESS]
    : [1, 2, 3].map((up) => path.resolve(ROOT, ...Array(up).fill('..'), 'shared', 'bench'));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'compare')));
  if (!found)
    throw new Error(
      `the benchmark harness was not found (looked in ${candidates.join(', ')}); set FERRY_BENCH_HARNESS`,
    );
  return found;
}

/** Where the harness keeps its generated files (the same rule as its scripts). */
export function workDir(harness) {
  const wanted = process.env.FERRY_BENCH_HOME ?? harness;
  try {
    accessSync(wanted, constants.W_OK);
    return wanted;
  } catch {
    return '/var/tmp/ferry-bench';
  }
}

/**
 * A running peer of the harness (`peer start NAME` first): its port and FTPS mode, its data
 * directory (big.bin, small/, upload/) and certificate, from `peer env NAME`.
 */
export function runningPeer(name) {
  const harness = findHarness();
  const w = workDir(harness);
  const text = execFileSync(path.join(harness, 'peer'), ['env', name], { encoding: 'utf8' });
  const env = Object.fromEntries([...text.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  return {
    name,
    port: Number(env.FTPS_PORT),
    mode: env.FTPS_MODE,
    user: env.FTPS_USER,
    password: env.FTPS_PASS,
    pid: Number(env.FTPS_PID),
    data: path.join(w, 'data'),
    certFile: path.join(w, '.state', 'cert.pem'),
  };
}
