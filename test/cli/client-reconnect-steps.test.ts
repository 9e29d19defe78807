// A server restarted around a one-file command's own steps (not its transfer): they run on the
// live connection, or are retried over a new one, as a batch's are.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ServeProcess } from '../support/ferry-process.js';
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
