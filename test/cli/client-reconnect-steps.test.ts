// A server restarted around a one-file command's own steps (not its transfer): they run on the
// live connection, or are retried over a new one, as a batch's are. The steps on the control
// connection alone are caught by a relay that holds the command back (plain FTP, so that it can
// read it): the server is killed while the command waits, never after it was answered.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ServeProcess } from '../support/ferry-process.js';
import { holdCommand } from '../support/held-command.js';
import { client, grown, samePorts, setup } from '../support/reconnect.js';

test(
  'ferry get -R --retry 5 of one file: the server killed mid-download and restarted; the copy gets the remote time, read on the new connection',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    const time = new Date('2020-01-01T00:00:00Z');
    await utimes(path.join(s.root, 'big.bin'), time, time);
    let server = await ServeProcess.start(s.args, s.dir);
    t.after(() => server.stop('SIGKILL'));
    const watching = new AbortController();
    t.after(() => watching.abort());
    const target = path.join(s.out, 'copy.bin');
    const started = grown(target, 64 * 1024, watching.signal);
    const url = `ftpes://alice@127.0.0.1:${server.explicitPort}/big.bin`;
    const c = client(['get', '-R', url, target, '--ca', s.ca, '--retry', '5']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    await started;
    await server.stop('SIGKILL');
    server = await ServeProcess.start([...s.args, ...samePorts(server)], s.dir);
    const [code] = await exited;
    const stderr = c.stderr();
    assert.equal(code, EXIT.ok, stderr);
    assert.match(stderr, /^retrying big\.bin \(1 of 5\) after /m);
    assert.doesNotMatch(stderr, /modification time not kept/);
    assert.deepEqual(await readFile(target), await readFile(path.join(s.root, 'big.bin')));
    assert.equal((await stat(target)).mtime.getTime(), time.getTime());
  },
);

/** The server's arguments for plain FTP (the relay reads the commands). */
const PLAIN = ['--allow-plain', '--allow-clear-data'];

test(
  'ferry put -R --retry 5 FILE URL/dir (no slash): the server killed while the client asks whether dir is a directory and restarted; the client asks again and uploads into it',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    await mkdir(path.join(s.root, 'dir'));
    const local = path.join(s.dir, 'up.txt');
    await writeFile(local, 'up\n');
    const time = new Date('2020-01-01T00:00:00Z');
    await utimes(local, time, time);
    let server = await ServeProcess.start([...s.args, ...PLAIN], s.dir);
    t.after(() => server.stop('SIGKILL'));
    const relay = await holdCommand(t, server.explicitPort, /^MLST dir\r?\n$/);
    const url = `ftp://alice@127.0.0.1:${relay.port}/dir`;
    const c = client(['put', '-R', local, url, '--allow-plain', '--retry', '5']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    await relay.held;
    await server.stop('SIGKILL');
    server = await ServeProcess.start([...s.args, ...PLAIN, ...samePorts(server)], s.dir);
    const [code] = await exited;
    const stderr = c.stderr();
    assert.equal(code, EXIT.ok, stderr);
    assert.match(stderr, /^retrying dir \(1 of 5\) after /m);
    assert.doesNotMatch(stderr, /modification time not kept/);
    const uploaded = path.join(s.root, 'dir', 'up.txt');
    assert.equal(await readFile(uploaded, 'utf8'), 'up\n');
    assert.equal((await stat(uploaded)).mtime.getTime(), time.getTime());
  },
);

test(
  'ferry mirror --verify --retry 5: the server killed while the client waits for a HASH and restarted; the client asks again and downloads the file that differs',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t);
    // The same size as the server's f1.txt, other bytes: only its checksum tells them apart.
    await writeFile(path.join(s.out, 'f1.txt'), 'F1.TXT\n');
    let server = await ServeProcess.start([...s.args, ...PLAIN], s.dir);
    t.after(() => server.stop('SIGKILL'));
    const relay = await holdCommand(t, server.explicitPort, /^HASH /);
    const url = `ftp://alice@127.0.0.1:${relay.port}/`;
    const c = client(['mirror', '--verify', url, s.out, '--allow-plain', '--retry', '5']);
    t.after(() => c.child.kill('SIGKILL'));
    const exited = once(c.child, 'exit') as Promise<[number | null]>;
    assert.match(await relay.held, /^HASH \/?f1\.txt$/);
    await server.stop('SIGKILL');
    server = await ServeProcess.start([...s.args, ...PLAIN, ...samePorts(server)], s.dir);
    const [code] = await exited;
    const stderr = c.stderr();
    assert.equal(code, EXIT.ok, stderr);
    assert.match(stderr, /^retrying f1\.txt \(1 of 5\) after /m);
    assert.match(stderr, /^reconnecting in 1 s \(attempt 1 of 5\): /m);
    for (const name of ['f1.txt', 'big.bin'])
      assert.deepEqual(await readFile(path.join(s.out, name)), await readFile(path.join(s.root, name)), name);
  },
);
