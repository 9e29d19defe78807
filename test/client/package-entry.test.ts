/**
 * 'ferry/client', the entry an application that only transfers files imports: one bundled module
 * (scripts/bundle-client.mjs) rather than forty, and the very classes the main entry 'ferry' exports,
 * so that an error thrown by the client is a FerryError however the application imported it. The
 * CLI's client commands (`ferry get`, `put`, `ls`…) and `ferry probe` are one bundled module each.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { ListOptions, MkdirOptions, RemoveOptions, ReplyCode } from '../../src/client/bundle.js';
import { FerryError as ErrorsModuleFerryError } from '../../src/errors.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);

/**
 * Makes a Node process print the URL of every file it loads, one per line. The hooks run on a
 * thread of their own, whose process.stdout the process may exit before flushing: each line is
 * written straight to descriptor 1, before the file is loaded.
 */
const HOOK = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  "import { writeSync } from 'node:fs';" +
  'export async function load(url, context, next) {' +
  "  if (url.startsWith('file:')) writeSync(1, url + '\\\\n');" +
  '  return next(url, context);' +
  '}'));
`;

const filesIn = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('file:'));
/** Paths under dist/src/ of the files loaded, sorted. */
const ours = (stdout: string): string[] =>
  filesIn(stdout)
    .filter((u) => u.includes('/dist/src/'))
    .map((u) => u.slice(u.indexOf('/dist/src/') + '/dist/src/'.length))
    .sort();
/** errors.js and the two protocol modules it imports: shared with the server, never copied. */
const SHARED = ['errors.js', 'protocol/codes.js', 'protocol/reply.js'];

/** Runs `ferry ARGS` (dist/src/cli/main.js) with the hook: its stdout, load lines included. */
async function ferryLoading(args: readonly string[]): Promise<string> {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const hook = `data:text/javascript,${encodeURIComponent(HOOK)}`;
  return (await run(process.execPath, ['--import', hook, main, ...args])).stdout;
}

describe("the client's entry points", () => {
  it("'ferry/client' is one file, besides the error classes it shares with the server", async () => {
    const target = import.meta.resolve('ferry/client');
    assert.match(target, /\/dist\/src\/client\/bundle\.js$/);
    const script = `${HOOK}await import(process.argv[1]);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, target]);
    assert.deepEqual(ours(stdout), ['client/bundle.js', ...SHARED].sort(), stdout);
  });

  for (const [command, file] of [
    ['ls', 'cli/client-bundle.js'],
    ['probe', 'cli/probe-bundle.js'],
  ] as const) {
    it(`\`ferry ${command}\` loads ${file} as one file, and no other client or server module`, async () => {
      const stdout = await ferryLoading([command, '--help']);
      assert.match(stdout, new RegExp(`Usage: ferry ${command}`));
      assert.deepEqual(ours(stdout), ['cli/main.js', file, ...SHARED].sort(), stdout);
    });
  }

  it('`ferry ls` loads no package: commander is in its bundle (its eight modules cost ~25 ms of CPU)', async () => {
    const stdout = await ferryLoading(['ls', '--help']);
    assert.match(stdout, /Usage: ferry ls/);
    assert.deepEqual(
      filesIn(stdout).filter((u) => u.includes('/node_modules/')),
      [],
      stdout,
    );
  });

  it('`ferry --version` loads no command', async () => {
    const stdout = await ferryLoading(['--version']);
    assert.match(stdout, /^\d+\.\d+\.\d+$/m);
    assert.deepEqual(ours(stdout), ['cli/main.js', ...SHARED].sort(), stdout);
  });

  it("'ferry/client' exports the types in its signatures, and its classes keep their names", async () => {
    const client = await import('ferry/client');
    // The types of list(), remove(), mkdir() and ReplyError.replyCode: this compiles only if exported.
    const options: [ListOptions, RemoveOptions, MkdirOptions] = [
      { all: true },
      { recursive: true },
      { parents: true },
    ];
    const code: ReplyCode = new client.ReplyError(550 as ReplyCode, 'No such file.').replyCode;
    assert.equal(options.length, 3);
    assert.equal(code, 550);
    // esbuild renames a class that names itself (NoGreetingError.again()) unless told to keep names.
    assert.equal(client.NoGreetingError.name, 'NoGreetingError');
    for (const [name, value] of Object.entries(client))
      if (typeof value === 'function' && /^[A-Z]/.test(name)) assert.equal(value.name, name, name);
  });

  it("'ferry' exports the same classes, and a client's error is a FerryError", async () => {
    const client = await import('ferry/client');
    const main = await import('ferry');
    assert.equal(client.FerryClient, main.FerryClient);
    assert.equal(client.ConnectionError, main.ConnectionError);
    assert.equal(client.FerryError, main.FerryError);
    assert.equal(client.FerryError, ErrorsModuleFerryError, 'the one the server throws');
    const port = await freePort(); // nothing listens there
    const err: unknown = await client.FerryClient.connect({ host: '127.0.0.1', port, insecure: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof main.ConnectionError, String(err));
    assert.ok(err instanceof ErrorsModuleFerryError, String(err));
  });
});
