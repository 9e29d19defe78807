import { stat } from 'node:fs/promises';
import { hasPassword } from '../db/database-url.js';
import type { FileConfig } from './config.js';

/** What in the config file is secret, as the file names it; empty when nothing is. */
function secretsIn(config: FileConfig): string[] {
  const out: string[] = [];
  if (config.admin?.token !== undefined) out.push('admin.token');
  if ((config.users ?? []).length > 0) out.push("users' password hashes");
  // postgres://user:password@host, or ?password= as libpq takes it too.
  if (hasPassword(config.accounts?.postgres ?? '')) out.push("accounts.postgres's password");
  if (config.storage?.s3?.secretAccessKey !== undefined) out.push('storage.s3.secretAccessKey');
  return out;
}

/**
 * A config file any account may read that holds secrets (root's umask makes /etc files 0644): what
 * it holds and how to make it private, or undefined. Said at start and at each reload, as a key
 * file others can read is.
 */
export async function configSecretsWarning(file: string, config: FileConfig): Promise<string | undefined> {
  const secrets = secretsIn(config);
  if (secrets.length === 0) return undefined;
  const mode = await stat(file).then(
    (s) => s.mode & 0o777,
    () => 0,
  );
  if ((mode & 0o004) === 0) return undefined;
  const octal = mode.toString(8).padStart(4, '0');
  return `the config file ${file} is readable by others (mode ${octal}) and holds ${secrets.join(', ')}: make it private (chmod 640 and the service user's group: chgrp ferry ${file}; or chmod 600)`;
}
