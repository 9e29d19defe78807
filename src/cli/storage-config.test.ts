import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { storageSetup } from './storage-config.js';

/** A loopback port nothing listens on: taken from the kernel (port 0), then let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a gateway out of reach at start: the error names the endpoint and the cause', async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const setup = storageSetup(
    { s3: { endpoint, bucket: 'ferry-homes', forcePathStyle: true, maxAttempts: 1 } },
    { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' },
    'ferry.yaml: storage.s3',
  );
  try {
    await assert.rejects(setup.check([]), (err: Error) => {
      assert.match(err.message, /^ferry\.yaml: storage\.s3\.bucket: bucket "ferry-homes" cannot be used: /);
      assert.ok(err.message.includes(`(${endpoint}: `), err.message);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  } finally {
    setup.close();
  }
});
