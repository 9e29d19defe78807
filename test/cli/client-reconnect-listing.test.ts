// A server restarted while the client is still listing (mirror's walk, get's pattern expansion):
// with --retry the listing is asked again over a new connection, after the same reconnect pauses as
// a file's, and the command goes on. The server's only passive port is held by the test, so the
// listing's EPSV waits for it, and the server is killed there: never after the listing was done.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ServeProcess } from '../support/ferry-process.js';
import { client, samePorts, setup, SMALL } from '../support/reconnect.js';

/** A port of ours, listening, so that a server given it as its passive range finds it taken. */
async function heldPort(t: TestContext): Promise<{ port: number; release: () => Promise<void> }> {
  const holder = net.createServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const release = async (): Promise<void> => {
    if (holder.listening) await new Promise<void>((resolve) => holder.close(() => resolve()));
  };
  t.after(release);
  return { port: (holder.address() as net.AddressInfo).port, release };
}

for (const command of ['mirror', 'get'] as const) {
  test(
    `ferry ${command} --retry 5: the server killed while the client lists and restarted; the client lists again over a new connection and transfers every file`,
    { timeout: 120_000 },
    async (t) => {
      const s = await setup(t);
      await mkdir(path.join(s.root, 'sub'));
      await writeFile(path.join(s.root, 'sub', 'deep.txt'), 'deep\n');
      const held = await heldPort(t);
      let server = await ServeProcess.start([...s.args, '--pasv-ports', `${held.port}-${held.port}`], s.dir);
      t.after(() => server.stop('SIGKILL'));
      const url = `ftpes://alice@127.0.0.1:${server.explicitPort}`;
      const sources = command === 'get' ? [`${url}/f*.txt`] : [`${url}/`];
      const c = client([command, ...sources, s.out, '--ca', s.ca, '--retry', '5']);
      t.after(() => c.child.kill('SIGKILL'));
      const exited = once(c.child, 'exit') as Promise<[number | null]>;
      // The first data connection is the listing's: its EPSV waits for the port we hold.
      await c.line(/^> EPSV$/m);
      await server.stop('SIGKILL');
      await held.release();
      server = await ServeProcess.start([...s.args, ...samePorts(server)], s.dir);
      const [code] = await exited;
      const stderr = c.stderr();
      assert.equal(code, EXIT.ok, stderr);
      // Killed mid-exchange, the connection ends with a reset or a close, whichever comes first.
      const lost = '(The server closed the control connection\\.|Control connection failed: read ECONNRESET)';
      assert.match(
        stderr,
        new RegExp(`^retrying the listing of the login directory \\(1 of 5\\) after ${lost}$`, 'm'),
      );
      assert.match(stderr, new RegExp(`^reconnecting in 1 s \\(attempt 1 of 5\\): ${lost}$`, 'm'));
      const names = command === 'get' ? SMALL : [...SMALL, 'big.bin', 'sub/deep.txt'];
      for (const name of names)
        assert.deepEqual(
          await readFile(path.join(s.out, name)),
          await readFile(path.join(s.root, name)),
          name,
        );
    },
  );
}

test(
  'ferry get --retry 5 of a pattern in a directory the server does not have (550): fails at once, no retry',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    const server = await ServeProcess.start(s.args, s.dir);
    t.after(() => server.stop('SIGKILL'));
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/missing/*.txt`;
    const c = client(['get', url, s.out, '--ca', s.ca, '--retry', '5']);
    t.after(() => c.child.kill('SIGKILL'));
    const [code] = (await once(c.child, 'exit')) as [number | null];
    assert.equal(code, EXIT.remote, c.stderr());
    assert.doesNotMatch(c.stderr(), /^(retrying|reconnecting) /m);
  },
);
