/**
 * The `ferry` command against useFerryFixture's server: its certificate pinned, the password in
 * FERRY_PASSWORD, the fixture's temporary directory as HOME (known_hosts, the local trees).
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';

import { testCertificate } from '../../support/ferry.js';
import type { FerryFixture } from '../ferry-fixture.js';
import { ferry, type CliResult } from '../helpers.js';

/** `ftpes://alice@127.0.0.1:PORT` of the fixture's server. */
export function baseUrl(f: FerryFixture): string {
  return `ftpes://alice@127.0.0.1:${f.ts.explicitPort}`;
}

/** `ferry COMMAND --fingerprint … ARGS…` (args[0] is the command). */
export async function cliOf(f: FerryFixture, args: readonly string[]): Promise<CliResult> {
  const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
  const env = {
    HOME: f.dir,
    FERRY_PASSWORD: f.ts.password,
    FERRY_KNOWN_HOSTS: path.join(f.dir, 'known_hosts'),
  };
  const [command = '', ...rest] = args;
  return ferry([command, '--fingerprint', pin, ...rest], env);
}
