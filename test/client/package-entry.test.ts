/**
 * 'ferry/client', the entry an application that only transfers files imports: one bundled module
 * (scripts/bundle-client.mjs) rather than forty, and the very classes the main entry 'ferry' exports,
 * so that an error thrown by the client is a FerryError however the application imported it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { FerryError as ErrorsModuleFerryError } from '../../src/errors.js';

const run = promisify(execFile);

/** Prints the URL of every file a fresh Node process loads importing `target`. */
const LOADS = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  'export async function load(url, context, next) {' +
  "  if (url.startsWith('file:')) process.stdout.write(url + '\\\\n');" +
  '  return next(url, context);' +
  '}'));
await import(process.argv[1]);
`;

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("the package's client entry", () => {
  it("'ferry/client' is one file, besides the error classes it shares with the server", async () => {
    const target = import.meta.resolve('ferry/client');
    assert.match(target, /\/dist\/src\/client\/bundle\.js$/);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', LOADS, target]);
    const loaded = stdout.split('\n').filter((l) => l !== '');
    assert.ok(loaded.includes(target), stdout);
    const client = loaded.filter((u) => u.includes('/dist/src/client/'));
    assert.deepEqual(client, [target], `only the bundle of the client's modules: ${stdout}`);
    // errors.js and the two protocol modules it needs, nothing of the server
    assert.ok(loaded.length <= 8, stdout);
    assert.ok(!loaded.some((u) => /\/(server|storage|cli)\//.test(u)), stdout);
  });

  it("exports the same classes as 'ferry', and a client's error is a FerryError", async () => {
    const client = await import('ferry/client');
    const main = await import('ferry');
    assert.equal(client.FerryClient, main.FerryClient);
    assert.equal(client.ConnectionError, main.ConnectionError);
    assert.equal(client.FerryError, main.FerryError);
    assert.equal(client.FerryError, ErrorsModuleFerryError, 'the one the server throws');
    const port = await closedPort();
    const err: unknown = await client.FerryClient.connect({ host: '127.0.0.1', port, insecure: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof main.ConnectionError, String(err));
    assert.ok(err instanceof ErrorsModuleFerryError, String(err));
  });
});
