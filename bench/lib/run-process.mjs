// Runs a program (no shell) with a deadline (SIGKILL by PID), capturing output and wall time.
import { execFile } from 'node:child_process';

/** Child processes currently running, so a global abort can kill them by PID. */
export const running = new Set();

/**
 * @returns {Promise<{code:number|null, signal:string|null, timedOut:boolean, stdout:string, stderr:string, wallMs:number}>}
 */
export function runProcess(file, args, { timeoutMs = 60_000, env, cwd, input } = {}) {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd,
        env: env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/tmp' },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        running.delete(child);
        const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (error && typeof error.code === 'string') {
          reject(new Error(`cannot run ${file}: ${error.message}`));
          return;
        }
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: error?.signal ?? null,
          timedOut: error?.killed === true,
          stdout,
          stderr,
          wallMs,
        });
      },
    );
    running.add(child);
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/** Throws unless the process exited with 0; the message names the command and its stderr. */
export function check(result, what) {
  if (result.code === 0) return result;
  const why = result.timedOut
    ? 'timed out'
    : result.code === null
      ? `killed by ${result.signal}`
      : `exited with ${result.code}`;
  throw new Error(`${what} ${why}: ${result.stderr.trim().slice(-1500)}`);
}
