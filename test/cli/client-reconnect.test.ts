// The client against a real `ferry serve` process that dies mid-batch: with --retry the client
// reconnects (after 1 s, 2 s, 4 s …, while the restarted server is still starting and refuses
// connections), continues the download it was in with REST and transfers the files still queued
// (they were reported failed without a try). A server that stops answering (SIGSTOP) mid-download
// is given up after --timeout, not after the 60 s data timeout. A mirror opens no connection at
// the end when no remote step is left; restarted with the password changed, the server sees one
// refused login, not one per connection of a --parallel run. `--retry` applies to a get of one
// file too.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ServeProcess } from '../support/ferry-process.js';
import { BIG, client, grown, setup, SMALL } from '../support/reconnect.js';

/**
 * `ferry COMMAND … --retry 5 -v` (get: f1.txt, big.bin, f2-f4.txt; mirror: the tree) while the
 * server is stopped with `signal` once big.bin's download is under way, then started again on its
 * ports; its exit code and stderr, once every file has been checked.
 */
async function restartedMidDownload(
  t: TestContext,
  command: 'get' | 'mirror',
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<{ code: number | null; stderr: string }> {
  const s = await setup(t);
  let server = await ServeProcess.start(s.args, s.dir);
  t.after(() => server.stop('SIGKILL'));
  const ports = [
    '--implicit-port',
    String(server.implicitPort),
    '--explicit-port',
    String(server.explicitPort),
  ];
  const url = `ftpes://alice@127.0.0.1:${server.explicitPort}`;
  const sources =
    command === 'get' ? ['f1.txt', 'big.bin', ...SMALL.slice(1)].map((n) => `${url}/${n}`) : [`${url}/`];
  const watching = new AbortController();
  t.after(() => watching.abort());
  const started = grown(path.join(s.out, 'big.bin'), 64 * 1024, watching.signal);
  const c = client([command, ...sources, s.out, '--ca', s.ca, '--retry', '5']);
  t.after(() => c.child.kill('SIGKILL'));
  const exited = once(c.child, 'exit') as Promise<[number | null]>;
  await c.line(/^< 150 .*big\.bin/m);
  await started;
  // SIGTERM: a graceful stop, which lets the download end, then closes the session with a 421.
  await server.stop(signal);
  server = await ServeProcess.start([...s.args, ...ports], s.dir);
  const [code] = await exited;
  const stderr = c.stderr();
  assert.equal(code, EXIT.ok, stderr);
  assert.match(stderr, /^Transferred 5 (of 5 )?file\(s\)/m);
  for (const name of ['big.bin', ...SMALL])
    assert.deepEqual(await readFile(path.join(s.out, name)), await readFile(path.join(s.root, name)), name);
  return { code, stderr };
}

for (const command of ['get', 'mirror'] as const) {
  test(
    `ferry ${command} --retry 5: the server killed mid-download and restarted on its port; the client reconnects, continues with REST and transfers every file`,
    { timeout: 120_000 },
    async (t) => {
      const { stderr } = await restartedMidDownload(t, command, 'SIGKILL');
      assert.match(
        stderr,
        /^retrying big\.bin \(1 of 5\) after The server closed the control connection\.$/m,
      );
      assert.match(
        stderr,
        /^reconnecting in 1 s \(attempt 1 of 5\): The server closed the control connection\.$/m,
      );
      assert.match(stderr, /^> REST [1-9]\d*$/m, 'the download continued where it had got to');
      // The pool's reconnect only: a mirror with no remote step left (no deletion, a download)
      // opens no connection of its own at the end, which waited 1 s and logged in just to QUIT.
      assert.equal(stderr.match(/^reconnecting in 1 s \(attempt 1 of 5\)/gm)?.length, 1, stderr);
    },
  );

  test(
    `ferry ${command} --retry 5: a graceful restart (421) mid-download; the client reconnects once the server listens again, for the files left`,
    { timeout: 120_000 },
    async (t) => {
      const { stderr } = await restartedMidDownload(t, command, 'SIGTERM');
      if (command === 'get')
        assert.match(stderr, /^reconnecting in 1 s \(attempt 1 of 5\): .*421 Server shutting down/m);
      else {
        // The 421 follows big.bin's end: the mirror reconnects only when the listing's order left
        // files after it, never just to QUIT.
        const reconnects = stderr.match(/^reconnecting in .*$/gm) ?? [];
        assert.ok(reconnects.length <= 1, stderr);
        for (const r of reconnects)
          assert.match(r, /^reconnecting in 1 s \(attempt 1 of 5\): .*421 Server shutting down/);
      }
    },
  );
}

test(
  'ferry get --retry 5 of one file: the server killed mid-download and restarted; the client reconnects and continues with REST',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    let server = await ServeProcess.start(s.args, s.dir);
    t.after(() => server.stop('SIGKILL'));
    const ports = [
      '--implicit-port',
      String(server.implicitPort),
      '--explicit-port',
      String(server.explicitPort),
    ];
    const watching = new AbortController();
    t.after(() => watching.abort());
    const target = path.join(s.out, 'copy.bin');
    const started = grown(target, 64 * 1024, watching.signal);
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/big.bin`;
    const c = client(['get', url, target, '--ca', s.ca, '--retry', '5']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    await started;
    await server.stop('SIGKILL');
    server = await ServeProcess.start([...s.args, ...ports], s.dir);
    const [code] = await exited;
    const stderr = c.stderr();
    assert.equal(code, EXIT.ok, stderr);
    assert.match(stderr, /^retrying big\.bin \(1 of 5\) after The server closed the control connection\.$/m);
    assert.match(stderr, /^> REST [1-9]\d*$/m, 'the download continued where it had got to');
    assert.deepEqual(await readFile(target), await readFile(path.join(s.root, 'big.bin')));
  },
);

test(
  'ferry mirror --parallel 3 --retry 5: restarted with the password changed, the login is refused once, not once per connection',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    const bigs = ['big1.bin', 'big2.bin', 'big3.bin'];
    await rm(path.join(s.root, 'big.bin'));
    for (const name of bigs) await writeFile(path.join(s.root, name), randomBytes(BIG));
    let server = await ServeProcess.start(s.args, s.dir);
    t.after(() => server.stop('SIGKILL'));
    const ports = [
      '--implicit-port',
      String(server.implicitPort),
      '--explicit-port',
      String(server.explicitPort),
    ];
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/`;
    const watching = new AbortController();
    t.after(() => watching.abort());
    const c = client(['mirror', url, s.out, '--ca', s.ca, '--retry', '5', '--parallel', '3']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    // Every connection in the middle of a download when the server dies.
    await Promise.all(bigs.map((name) => grown(path.join(s.out, name), 64 * 1024, watching.signal)));
    await server.stop('SIGKILL');
    const changed = s.args.map((a) => (a === 'alice:secret' ? 'alice:changed' : a));
    server = await ServeProcess.start([...changed, ...ports], s.dir);
    const [code] = await exited;
    const stderr = c.stderr();
    assert.equal(code, EXIT.auth, stderr);
    assert.equal(stderr.match(/^< 530 /gm)?.length, 1, stderr);
  },
);

test(
  'ferry get --timeout 2: a server that stops answering mid-download is given up after 2 s of no data',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    const server = await ServeProcess.start(s.args, s.dir);
    t.after(() => server.stop('SIGKILL'));
    const watching = new AbortController();
    t.after(() => watching.abort());
    const started = grown(path.join(s.out, 'big.bin'), 64 * 1024, watching.signal);
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/big.bin`;
    const c = client(['get', url, s.out, '--ca', s.ca, '--timeout', '2', '--retry', '0']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    await c.line(/^< 150 /m);
    await started;
    server.child.kill('SIGSTOP');
    const [code] = await exited;
    assert.equal(code, EXIT.transfer, c.stderr());
    assert.match(c.stderr(), /The data connection stalled: no traffic for 2000 ms\./);
  },
);

// The file replaced while the server was down: continuing it with REST would join the old version's
// first bytes to the new one's rest (or, onto a smaller file, fail as a local file error). The
// client reads the file's identity (MLST: size, modify, unique) before the download and again
// before continuing it, and starts over when it changed.
for (const [command, what, size, cutAfter] of [
  ['get', 'another file of the same size', BIG, 64 * 1024],
  ['get', 'a smaller file than what had arrived', 500_000, 600_000],
  ['mirror', 'another file of the same size', BIG, 64 * 1024],
  ['get one file', 'another file of the same size', BIG, 64 * 1024],
] as const) {
  test(
    `ferry ${command} --retry 4: big.bin replaced by ${what} while the server was down; the download starts over`,
    { timeout: 120_000 },
    async (t) => {
      const s = await setup(t);
      // An old time for the first version: the replacement's differs whatever the clock says.
      await utimes(path.join(s.root, 'big.bin'), new Date('2020-01-01'), new Date('2020-01-01'));
      let server = await ServeProcess.start(s.args, s.dir);
      t.after(() => server.stop('SIGKILL'));
      const ports = [
        '--implicit-port',
        String(server.implicitPort),
        '--explicit-port',
        String(server.explicitPort),
      ];
      const url = `ftpes://alice@127.0.0.1:${server.explicitPort}`;
      const watching = new AbortController();
      t.after(() => watching.abort());
      const started = grown(path.join(s.out, 'big.bin'), cutAfter, watching.signal);
      const sources =
        command === 'get'
          ? [`${url}/big.bin`, `${url}/f1.txt`]
          : command === 'mirror'
            ? [`${url}/`]
            : [`${url}/big.bin`];
      const verb = command === 'mirror' ? 'mirror' : 'get';
      const c = client([verb, ...sources, s.out, '--ca', s.ca, '--retry', '4']);
      t.after(() => c.child.kill('SIGKILL'));
      const exited = once(c.child, 'exit') as Promise<[number | null]>;
      await c.line(/^< 150 .*big\.bin/m);
      await started;
      await server.stop('SIGKILL');
      const replacement = randomBytes(size);
      await writeFile(path.join(s.root, 'big.bin'), replacement);
      server = await ServeProcess.start([...s.args, ...ports], s.dir);
      const [code] = await exited;
      const stderr = c.stderr();
      assert.equal(code, EXIT.ok, stderr);
      assert.match(stderr, /^\/?big\.bin: changed on the server: starting over$/m);
      if (command === 'get') assert.match(stderr, /^Transferred 2 (of 2 )?file\(s\)/m);
      assert.ok((await readFile(path.join(s.out, 'big.bin'))).equals(replacement), 'the new version, whole');
    },
  );
}
