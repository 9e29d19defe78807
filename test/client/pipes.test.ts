/**
 * Streams and pipes as the local side, against Ferry's server. A resumed upload from a stream
 * (`put -c -`, put(readable, { resume: true })) skips the bytes the server has already, as
 * `curl -C - -T -` does: it appended the whole stream after them. A download into a pipe or a FIFO
 * (`get URL /dev/stdout | …`, `get URL fifo`) is written in order: every write was positioned, and
 * failed with ESPIPE. A target that takes no positioned writes and is no pipe or terminal
 * (/proc/version) is refused before the download, saying so.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { FerryClient } from '../../src/client/client.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { CLI, clientOf, ferry, type CliResult } from './helpers.js';

/** Runs `ferry` with `input` on its stdin (a pipe). */
async function ferryWithInput(
  args: readonly string[],
  env: Record<string, string>,
  input: Buffer,
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Chunks of mixed sizes (1 byte to more than 64 KiB) that add up to `data`. */
function chunksOf(data: Buffer): Buffer[] {
  const sizes = [1, 7, 65_536 + 3, 16_384, 999];
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, data.length - off);
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('streams and pipes as the local side', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let c: FerryClient;
  let home: string;
  let env: Record<string, string>;
  let common: string[];
  let base: string;

  before(async () => {
    ts = await startFerry();
    c = await clientOf(ts);
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-pipes-'));
    const ca = path.join(home, 'ca.pem');
    await writeFile(ca, (await testCertificate()).cert);
    env = { HOME: home, FERRY_PASSWORD: ts.password };
    common = ['--ca', ca, '--quiet'];
    base = `ftpes://${ts.user}@localhost:${ts.explicitPort}`;
  });

  after(async () => {
    c?.destroy();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  it('put -c - skips what the server has of stdin, and refuses a stdin shorter than that', async () => {
    await writeFile(path.join(ts.root, 'y.txt'), 'hi\nhi\nhi\n');
    ok(
      await ferryWithInput(
        ['put', '-c', ...common, '-', `${base}/y.txt`],
        env,
        Buffer.from('hi\nhi\nhi\nMORE\n'),
      ),
    );
    assert.equal(await readFile(path.join(ts.root, 'y.txt'), 'utf8'), 'hi\nhi\nhi\nMORE\n');

    const short = await ferryWithInput(
      ['put', '-c', ...common, '-', `${base}/y.txt`],
      env,
      Buffer.from('hi\n'),
    );
    assert.equal(short.code, EXIT.remote, short.stderr);
    assert.match(short.stderr, /Cannot resume: y\.txt has 14 bytes, more than the 3 of the stream\./);
    assert.equal(await readFile(path.join(ts.root, 'y.txt'), 'utf8'), 'hi\nhi\nhi\nMORE\n');
  });

  it('put(readable, { resume }) sends only what follows the remote size, whatever the chunks', async () => {
    const data = randomBytes(300_000);
    for (const [name, have] of [
      ['r1.bin', 100_001], // inside a chunk: its tail is sent
      ['r2.bin', 1 + 7 + 65_539], // at a chunk boundary
    ] as const) {
      await writeFile(path.join(ts.root, name), data.subarray(0, have));
      const r = await c.put(Readable.from(chunksOf(data)), name, { resume: true });
      assert.deepEqual([r.offset, r.bytes], [have, data.length - have]);
      assert.ok((await readFile(path.join(ts.root, name))).equals(data), name);
    }

    // All there already: nothing sent. A shorter stream: refused, the remote file as it was.
    const same = await c.put(Readable.from(chunksOf(data)), 'r1.bin', { resume: true });
    assert.deepEqual([same.bytes, same.reply], [0, undefined]);
    await assert.rejects(
      c.put(Readable.from(chunksOf(data.subarray(0, 5000))), 'r1.bin', { resume: true }),
      (err: unknown) =>
        err instanceof FerryError && err.code === 'ERR_REMOTE' && /5000 of the stream/.test(err.message),
    );
    assert.ok((await readFile(path.join(ts.root, 'r1.bin'))).equals(data));
  });

  it('get into /dev/stdout when stdout is a pipe writes the whole file to it', async () => {
    const text = randomBytes(150_000).toString('hex'); // more than one write buffer
    await writeFile(path.join(ts.root, 'big.txt'), text);
    // A child's stdout from Node is a socket (/dev/stdout cannot be opened: ENXIO); `| cat` makes
    // it a pipe, as in a shell. Its exit code goes to stderr.
    const script = '("$@"; echo "exit $?" >&2) | cat';
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        'sh',
        ['-c', script, 'sh', process.execPath, CLI, 'get', ...common, `${base}/big.txt`, '/dev/stdout'],
        { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, maxBuffer: 4 << 20 },
        (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
      ),
    );
    assert.equal(r.stderr, 'exit 0\n');
    assert.equal(r.stdout.length, text.length);
    assert.ok(r.stdout === text);
  });

  it('get URL - and cat into a pipe write each whole file, in order; a reader gone fails it as local', async () => {
    const one = randomBytes(700_000).toString('hex'); // several pool writes
    const two = randomBytes(1000).toString('hex');
    await writeFile(path.join(ts.root, 'one.txt'), one);
    await writeFile(path.join(ts.root, 'two.txt'), two);
    // `| cat` makes stdout a pipe (a Node child's is a socket), as in a shell.
    const piped = (args: string[], reader = 'cat'): Promise<{ stdout: string; stderr: string }> =>
      new Promise((resolve, reject) =>
        execFile(
          'sh',
          ['-c', `("$@"; echo "exit $?" >&2) | ${reader}`, 'sh', process.execPath, CLI, ...args],
          { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, maxBuffer: 8 << 20 },
          (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
        ),
      );
    const get = await piped(['get', ...common, `${base}/one.txt`, '-']);
    assert.equal(get.stderr, 'exit 0\n');
    assert.ok(get.stdout === one, `${get.stdout.length} of ${one.length} characters`);
    const cat = await piped(['cat', ...common, `${base}/one.txt`, `${base}/two.txt`, `${base}/one.txt`]);
    assert.equal(cat.stderr, 'exit 0\n');
    assert.ok(cat.stdout === one + two + one, `${cat.stdout.length} characters`);
    const gone = await piped(['get', ...common, `${base}/one.txt`, '-'], 'head -c 10');
    assert.equal(gone.stdout, one.slice(0, 10));
    assert.match(gone.stderr, new RegExp(`EPIPE[^]*exit ${EXIT.local}\\n$`));
  });

  it('get into a FIFO writes the whole file to its reader, and leaves the FIFO a FIFO', async () => {
    const data = randomBytes(200_000);
    await writeFile(path.join(ts.root, 'fifo.bin'), data);
    const fifo = path.join(home, 'p');
    execFileSync('mkfifo', [fifo]);
    const received = (async (): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const b of createReadStream(fifo)) chunks.push(b as Buffer);
      return Buffer.concat(chunks);
    })();
    const r = await ferry(['get', ...common, `${base}/fifo.bin`, fifo], env);
    // A ferry that never opened the FIFO: a writer of our own ends the reader's wait (no hang).
    if (r.code !== EXIT.ok) closeSync(openSync(fifo, 'r+'));
    ok(r);
    assert.ok((await received).equals(data));
    assert.ok((await lstat(fifo)).isFIFO());
  });

  it('get into a file that takes no positioned writes (/proc): a local error that says so', async () => {
    // /proc/self/comm, like /proc/version (which only root may open for writing), stats as a
    // regular file; "self" is the ferry process, which may write its own.
    await writeFile(path.join(ts.root, 'hello.txt'), 'hello\n');
    const r = await ferry(['get', ...common, `${base}/hello.txt`, '/proc/self/comm'], env);
    assert.equal(r.code, EXIT.local, r.stderr);
    assert.match(
      r.stderr,
      /Cannot download into \/proc\/self\/comm: it is not a regular file, a pipe or a terminal/,
    );
  });
});
