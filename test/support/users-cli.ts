/** `ferry users …` as a child process, for tests that change accounts under a running server. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { FERRY_MAIN, type ServeProcess } from './ferry-process.js';

export interface UsersRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ferry users ARGS --data-dir DATA`, with `input` on stdin (else no stdin: not a terminal). */
export async function runUsers(data: string, args: readonly string[], input?: string): Promise<UsersRun> {
  const child = spawn(process.execPath, [FERRY_MAIN, 'users', ...args, '--data-dir', data], {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/**
 * `ferry users …` that must succeed (else throws with its stderr); resolves with its output once
 * each of the server's `workers` has logged re-reading the users file.
 */
export async function changeUsers(
  server: ServeProcess,
  workers: number,
  data: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  const from = server.log.length;
  const r = await runUsers(data, args, input);
  if (r.code !== 0) throw new Error(`ferry users ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const reloads = (): number =>
    server.log.slice(from).filter((l) => l.msg === 'users file reloaded' && l.worker !== undefined).length;
  await server.waitForLog(() => reloads() >= workers, `every worker re-reading after ${args.join(' ')}`);
  return r.stdout;
}
