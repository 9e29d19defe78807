import { FerryError } from '../errors.js';
import { promptHidden } from './password-input.js';

/** Where `--user NAME` (no password on the command line) finds one. */
export interface PasswordSources {
  readonly env: NodeJS.ProcessEnv;
  readonly tty: boolean;
  readonly prompt: (question: string) => Promise<string>;
}

const FROM_PROCESS: PasswordSources = {
  env: process.env,
  get tty() {
    return process.stdin.isTTY === true;
  },
  prompt: promptHidden,
};

/**
 * `--user NAME:PASSWORD` (kept: tests and scripts; `ps` shows the password to every local
 * account), or `--user NAME` with the password from FERRY_PASSWORD (the client commands' variable:
 * /proc/PID/environ is readable by the same user and root only) or, on a terminal, typed unechoed.
 */
export async function userFlagLogin(
  spec: string,
  from: PasswordSources = FROM_PROCESS,
): Promise<{ username: string; password: string }> {
  const i = spec.indexOf(':');
  if (i === 0 || spec === '')
    throw new FerryError(
      'ERR_USAGE',
      '--user: expected NAME (password from FERRY_PASSWORD) or NAME:PASSWORD.',
    );
  if (i > 0) return { username: spec.slice(0, i), password: spec.slice(i + 1) };
  const fromEnv = from.env['FERRY_PASSWORD'];
  if (fromEnv) return { username: spec, password: fromEnv };
  if (!from.tty)
    throw new FerryError(
      'ERR_USAGE',
      `--user ${spec}: no password: set FERRY_PASSWORD, or start on a terminal to type it (NAME:PASSWORD works too, but ps shows it).`,
    );
  const typed = await from.prompt(`Password for ${spec}: `);
  if (typed === '') throw new FerryError('ERR_USAGE', `--user ${spec}: empty password.`);
  return { username: spec, password: typed };
}
