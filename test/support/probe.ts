/** Running `ferry probe` in tests: the CLI as a user runs it, or a target for a check run in-process. */
import { execFile, type ChildProcess } from 'node:child_process';

import { ProbeState, type ProbeTarget } from '../../src/client/probe/connection.js';
import { FERRY_MAIN } from './ferry-process.js';
import type { TestServer } from './ferry.js';

export interface ProbeRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ferry probe ARGS` (with `env` added to a bare environment); its exit code, -1 when it was killed. */
export function probeCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ProbeRun> {
  return startProbe(args, env).run;
}

/** `ferry probe ARGS` started: its process (to signal it) and how it ends, as probeCli() says it. */
export function startProbe(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): { child: ChildProcess; run: Promise<ProbeRun> } {
  let child!: ChildProcess;
  const run = new Promise<ProbeRun>((resolve) => {
    child = execFile(
      process.execPath,
      [FERRY_MAIN, 'probe', ...args],
      {
        // No ~/.netrc or FERRY_PASSWORD from the environment: the URL says who logs in.
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NETRC: '/nonexistent/.netrc', ...env },
        maxBuffer: 16 << 20,
        timeout: 240_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
  return { child, run };
}

/** A probe target for a test server's explicit FTPS port, logged in as its user. */
export function probeTarget(
  s: Pick<TestServer, 'explicitPort' | 'user' | 'password'>,
  o: Partial<ProbeTarget> = {},
): ProbeTarget {
  return {
    host: '127.0.0.1',
    port: s.explicitPort,
    security: 'explicit',
    user: s.user,
    password: s.password,
    servername: undefined,
    ca: undefined,
    // The checks run here are about the server, not the trust decision (test/client/probe-trust.test.ts).
    trust: undefined,
    timeoutMs: 5000,
    log: undefined,
    state: new ProbeState(),
    ...o,
  };
}
