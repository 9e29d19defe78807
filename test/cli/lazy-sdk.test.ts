// A server whose homes are all on local disk never loads the AWS SDK (its start-up time and memory
// are paid only with S3 homes): `ferry serve` runs under an import trace while a user uploads and
// lists, and the trace must name no @aws-sdk module. The same trace sees the SDK as soon as an S3
// connection is used, so the check fails if someone imports the SDK statically on the way.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { curlList, curlUpload } from '../support/clients.js';
import { bundledSources, unusedZod } from '../support/bundled-sources.js';
import { spawnFerry } from '../support/ferry-process.js';
import { REPO_ROOT } from '../support/peers.js';

const TRACE = pathToFileURL(path.join(REPO_ROOT, 'dist/test/support/import-trace.js')).href;
const run = promisify(execFile);

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-lazy-sdk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('ferry serve with local homes only never loads the AWS SDK', async (t) => {
  const dir = await tempDir(t);
  const trace = path.join(dir, 'trace');
  const ferry = await spawnFerry({
    env: { NODE_OPTIONS: `--import=${TRACE}`, FERRY_IMPORT_TRACE: trace },
  });
  try {
    const target = {
      host: '127.0.0.1',
      port: ferry.implicitPort,
      user: ferry.user,
      password: ferry.password,
      implicit: true,
    };
    const local = path.join(dir, 'up.txt');
    await writeFile(local, 'hello');
    assert.equal((await curlUpload(target, local, '/up.txt')).code, 0);
    assert.match((await curlList(target, '/')).stdout, /up\.txt/);
  } finally {
    await ferry.stop();
  }
  const loaded = await readFile(trace, 'utf8');
  assert.match(loaded, /dist\/src\/cli\/serve-bundle\.js/, 'the trace saw the server load');
  // The S3 code is in the server's bundle (cli/serve-bundle.ts), the SDK not.
  const sources = await bundledSources(loaded, 'serve-bundle');
  assert.ok(sources.includes('src/storage/s3-connection.ts'), 'the S3 code is there, without the SDK');
  assert.deepEqual(unusedZod(sources), []);
  assert.doesNotMatch(loaded, /@aws-sdk/);
  // zod, yaml, pino, prom-client and commander are in the bundle too: through Node's loaders (pino
  // and prom-client ~80 CommonJS modules) they cost each server process and worker ~0.1 s of CPU.
  assert.doesNotMatch(loaded, /\/node_modules\/(zod|yaml|pino|prom-client|commander)\//);
});

test('the import trace sees the AWS SDK once an S3 connection is used', async (t) => {
  const trace = path.join(await tempDir(t), 'trace');
  const module = pathToFileURL(path.join(REPO_ROOT, 'dist/src/storage/s3-connection.js')).href;
  const code = `const m = await import(${JSON.stringify(module)});
const c = new m.S3Connection(m.s3Settings({ endpoint: 'http://127.0.0.1:9' }));
await c.get();
c.close();`;
  await run(process.execPath, ['--import', TRACE, '--input-type=module', '-e', code], {
    env: { ...process.env, FERRY_IMPORT_TRACE: trace },
  });
  assert.match(await readFile(trace, 'utf8'), /node_modules\/@aws-sdk\/client-s3\//);
});
