// Parent side of lib/ferry-server.mjs: forks a Ferry server child process, asks it for memory figures,
// stops it by PID (SIGKILL after a deadline).
import { fork } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { memoryOf } from './procs.mjs';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ferry-server.mjs');

function once(child, type, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Ferry child: no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m?.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code, sig) => {
      cleanup();
      reject(new Error(`Ferry child exited (${code ?? sig}) while waiting for ${what}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * @param {{distIndex:string, root:string, certFile:string, keyFile:string, dataDir:string, user:string,
 *   password:string, scryptN?:number}} cfg
 * @param {{cpuProfDir?:string, profName?:string}} opts
 */
export async function startFerry(cfg, opts = {}) {
  const execArgv = ['--expose-gc'];
  if (opts.cpuProfDir) {
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
    if (opts.profName) execArgv.push(`--cpu-prof-name=${opts.profName}.cpuprofile`);
  }
  const child = fork(CHILD, [JSON.stringify(cfg)], {
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-65536)));
  child.stderr.setEncoding('utf8').on('data', (d) => (output = (output + d).slice(-65536)));
  let exited = child.exitCode !== null;
  const exitPromise = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
  let ready;
  try {
    ready = await once(child, 'ready', 60_000, 'ready message');
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${output.slice(-3000)}`, { cause: err });
  }
  const pid = child.pid;
  let stopping;
  let finalLogs = [];
  return {
    name: 'ferry',
    pid,
    explicitPort: ready.explicitPort,
    implicitPort: ready.implicitPort,
    output: () => output,
    /** The child's own view (after a forced GC when gc is true), plus RSS/PSS from /proc. */
    async memory(gc = true) {
      const sendP = once(child, 'mem', 30_000, 'memory report');
      child.send({ type: 'mem', gc });
      const m = await sendP;
      return { ...memoryOf(pid), usage: m.usage, sessions: m.sessions };
    },
    async logs() {
      if (exited) return finalLogs;
      const p = once(child, 'logs', 10_000, 'logs');
      child.send({ type: 'logs' });
      return (await p).logs;
    },
    stop: () =>
      (stopping ??= (async () => {
        if (exited) return finalLogs;
        try {
          const p = once(child, 'stopped', 15_000, 'stop');
          child.send({ type: 'stop' });
          finalLogs = (await p).logs;
        } catch {
          // fall through to the deadline below
        }
        await Promise.race([exitPromise, delay(10_000)]);
        if (!exited) {
          child.kill('SIGKILL'); // by PID: this is the child we forked
          await Promise.race([exitPromise, delay(5_000)]);
        }
        return finalLogs;
      })()),
  };
}
