/**
 * `ferry serve --workers 2`: each worker runs with THREAD_POOL_SIZE threads in libuv's pool (read
 * from /proc: the threads it really has, not only its environment), unless the operator's
 * environment sets UV_THREADPOOL_SIZE, which the workers then keep.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { THREAD_POOL_SIZE } from '../../src/cli/thread-pool.js';
import { ServeProcess } from '../support/ferry-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pool-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const threadsOf = async (pid: number): Promise<number> => (await readdir(`/proc/${pid}/task`)).length;

async function poolVariable(pid: number): Promise<string | undefined> {
  const env = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
  return env.find((v) => v.startsWith('UV_THREADPOOL_SIZE='))?.slice('UV_THREADPOOL_SIZE='.length);
}

/** `ferry serve --workers 2` with UV_THREADPOOL_SIZE as given (undefined: not set). */
async function serve(size: string | undefined): Promise<ServeProcess> {
  // ServeProcess passes this process's environment on; its own pool is started already.
  if (size === undefined) delete process.env['UV_THREADPOOL_SIZE'];
  else process.env['UV_THREADPOOL_SIZE'] = size;
  return ServeProcess.start(
    ['--workers', '2', '--root', dir, '--user', 'alice:secret', '--data-dir', path.join(dir, 'data')],
    dir,
  );
}

test(`each worker has a pool of ${THREAD_POOL_SIZE} threads; a size the operator set is kept`, async () => {
  const r = await serve(undefined);
  try {
    assert.equal(r.workerPids.length, 2, r.banner);
    for (const pid of r.workerPids) {
      assert.equal(await poolVariable(pid), String(THREAD_POOL_SIZE));
      // The main thread, V8's and Node's own, and the pool's.
      const threads = await threadsOf(pid);
      assert.ok(threads > THREAD_POOL_SIZE, `worker ${pid}: ${threads} threads`);
    }
  } finally {
    assert.equal(await r.stop(), 0);
  }
  const own = await serve('2');
  try {
    for (const pid of own.workerPids) {
      assert.equal(await poolVariable(pid), '2');
      const threads = await threadsOf(pid);
      assert.ok(threads < THREAD_POOL_SIZE, `worker ${pid}: ${threads} threads`);
    }
  } finally {
    assert.equal(await own.stop(), 0);
  }
});
