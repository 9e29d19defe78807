/** `ferry users …` under a running server, waiting for every worker to follow. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ferryOk, ferryUsers, type ServeProcess } from './ferry-process.js';

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
  const r = await ferryUsers(data, args, input);
  if (r.code !== 0) throw new Error(`ferry users ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const reloads = (): number =>
    server.log.slice(from).filter((l) => l.msg === 'users file reloaded' && l.worker !== undefined).length;
  await server.waitForLog(() => reloads() >= workers, `every worker re-reading after ${args.join(' ')}`);
  return r.stdout;
}

/** `ferry users add NAME` (password `pw`, home `homes/NAME`, created) through the CLI with `config`. */
export async function addUserWith(
  config: string,
  homes: string,
  name: string,
  ...flags: string[]
): Promise<void> {
  const home = path.join(homes, name);
  await mkdir(home, { recursive: true });
  await ferryOk(
    ['users', 'add', name, '--home', home, '--password-stdin', '--config', config, ...flags],
    'pw\n',
  );
}
