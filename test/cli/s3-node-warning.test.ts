// On Node < 22 the AWS SDK warns on stderr, when its first client is made, that its releases after
// January 2027 will need Node 22 (NodeVersionSupportWarning): several lines in the journal that
// read as Ferry's problem. `ferry serve` with storage.s3 and `ferry users add` with an s3:// home
// make that client (the bucket check) and must not print it. No gateway: the endpoint drops every
// connection, so the check fails at once, after the client was made. (Node 22 and up: no warning.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry } from '../support/ferry-process.js';

const SDK_WARNING = /NodeVersionSupportWarning|AWS SDK for JavaScript/;
const AWS = { AWS_ACCESS_KEY_ID: 'ferry', AWS_SECRET_ACCESS_KEY: 'ferry-secret', AWS_REGION: 'us-east-1' };

let dir: string;
let config: string;
const dropping = net.createServer((socket) => socket.destroy());
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-s3-warning-'));
  dropping.listen(0, '127.0.0.1');
  await once(dropping, 'listening');
  const { port } = dropping.address() as net.AddressInfo;
  config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    `dataDir: ${path.join(dir, 'data')}\nstorage:\n  s3:\n    endpoint: http://127.0.0.1:${port}\n    forcePathStyle: true\n    bucket: homes\n    maxAttempts: 1\n`,
  );
});
after(async () => {
  dropping.close();
  await rm(dir, { recursive: true, force: true });
});

test('ferry serve with storage.s3 prints no AWS SDK NodeVersionSupportWarning', async () => {
  const r = await runFerry(
    [
      ...['serve', '--allow-root', '--config', config, '--workers', '1', '--listen', '127.0.0.1'],
      ...['--explicit-port', '0', '--implicit-port', '0'],
    ],
    undefined,
    AWS,
  );
  assert.match(r.stderr, /storage\.s3\.bucket: bucket "homes" cannot be used/, 'the SDK client was made');
  assert.doesNotMatch(r.stderr, SDK_WARNING);
});

test('ferry users add --home s3://… prints no AWS SDK NodeVersionSupportWarning', async () => {
  const r = await runFerry(
    ['users', 'add', 'bob', '--home', 's3://homes/bob/', '--password-stdin', '--config', config],
    'pw\n',
    AWS,
  );
  assert.match(r.stderr, /--home: bucket "homes" cannot be used/, 'the SDK client was made');
  assert.doesNotMatch(r.stderr, SDK_WARNING);
});
