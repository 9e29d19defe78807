/**
 * A `--run-as` start that fails leaves nothing of root's in the data directory it made: options
 * that do not validate create nothing; a start that fails later (its port in use, after generating
 * its certificate) gives what it made to the user, so that the next, correct start can use it.
 * scripts/setup-service.sh creates the `ferry-test` user.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { access, chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { systemAccount } from '../support/accounts.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';

const USER = 'ferry-test';
const isRoot = process.getuid?.() === 0;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-failed-start-'));
  await chmod(dir, 0o755); // the run-as user must reach what it serves
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

const serveArgs = ['serve', '--run-as', USER, '--workers', '1', '--listen', '127.0.0.1'];

test(
  '--run-as with a --root that does not exist: refused, and the data directory is not created',
  {
    skip: !isRoot,
  },
  async () => {
    const data = path.join(dir, 'typo-data');
    const r = await runFerry([
      ...serveArgs,
      ...['--root', path.join(dir, 'typo'), '--data-dir', data, '--user', 'alice:secret'],
      ...['--explicit-port', '0', '--implicit-port', '0'],
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--root: .*typo does not exist/);
    assert.equal(await exists(data), false, `${data} was created`);
  },
);

test(
  "--run-as whose port is in use: what the start made is the user's, and the next start uses it",
  {
    skip: !isRoot,
  },
  async () => {
    const user = (await systemAccount(USER)) ?? assert.fail(`no system account ${USER}`);
    const root = path.join(dir, 'root');
    await mkdir(root, { recursive: true });
    await chown(root, user.uid, user.gid);
    const data = path.join(dir, 'busy-data');
    const busy = net.createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const port = String((busy.address() as net.AddressInfo).port);
      const r = await runFerry([
        ...serveArgs,
        ...['--root', root, '--data-dir', data, '--user', 'alice:secret'],
        ...['--explicit-port', port, '--implicit-port', '0'],
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /address is in use/);
    } finally {
      busy.close();
    }
    // No --cert: the certificate was generated before the port was refused.
    for (const p of [data, path.join(data, 'self-signed.crt'), path.join(data, 'self-signed.key')]) {
      const st = await stat(p);
      assert.deepEqual([st.uid, st.gid], [user.uid, user.gid], p);
    }
    const server = await ServeProcess.start(
      ['--run-as', USER, '--workers', '1', '--root', root, '--data-dir', data, '--user', 'alice:secret'],
      dir,
    );
    try {
      assert.doesNotMatch(server.banner, /WARNING/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);
