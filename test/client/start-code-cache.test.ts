/**
 * A client command started as the `ferry` command starts it (its first line passes the server's
 * --max-semi-space-size=4) still compiles Node's own modules from Node's built-in code cache: V8
 * refuses that cache under any V8 flag, which cost ~25 ms of CPU per `ferry get`/`put` (main.ts
 * sets the flag back to its default before the client loads). NODE_DEBUG_NATIVE=CODE_CACHE makes
 * Node say, for each of its modules, whether the cache was accepted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** node:tls is loaded by the client bundle, after main.ts has run. */
const TLS_ACCEPTED = /Code cache of tls \(\w+\) is accepted/;

async function codeCacheLog(nodeArgs: readonly string[]): Promise<string> {
  const { stdout, stderr } = await run(process.execPath, [...nodeArgs, MAIN, 'ls', '--help'], {
    env: { ...process.env, NODE_DEBUG_NATIVE: 'CODE_CACHE' },
  });
  assert.match(stdout, /Usage: ferry ls/);
  return stderr;
}

describe("a client command and Node's code cache", () => {
  it('takes the cache for the modules it loads, also under the first line --max-semi-space-size=4', async (t) => {
    if (!TLS_ACCEPTED.test(await codeCacheLog([]))) {
      t.skip('this Node build has no built-in code cache (or does not report it)');
      return;
    }
    assert.match(await codeCacheLog(['--max-semi-space-size=4']), TLS_ACCEPTED);
  });
});
