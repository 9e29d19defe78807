// System accounts for tests that run a server as another user (--run-as) when they run as root.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SystemAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** The account's entry from `getent passwd`, or undefined when there is no such account. */
export async function systemAccount(name: string): Promise<SystemAccount | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name]);
    const [, , uid, gid, , home] = stdout.trim().split(':');
    return { name, uid: Number(uid), gid: Number(gid), home: home ?? '' };
  } catch {
    return undefined;
  }
}

/**
 * Under root, the account a test server runs as so that file modes bind it (root reads a 000
 * directory): `ferry-test` where the test setup made it, else `nobody`. Undefined when not root.
 */
export async function unprivilegedAccount(): Promise<SystemAccount | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  return (await systemAccount('ferry-test')) ?? (await systemAccount('nobody'));
}
