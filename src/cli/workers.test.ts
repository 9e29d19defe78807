import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { THREAD_POOL_SIZE, threadPoolEnv } from './thread-pool.js';
import { workerExecArgv, YOUNG_GENERATION } from './workers.js';

describe('workerExecArgv', () => {
  it("adds the young-generation size to the primary's Node options", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps', YOUNG_GENERATION]);
  });

  it('keeps a size the operator chose', () => {
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=16']), ['--max-semi-space-size=16']);
  });
});

describe('threadPoolEnv', () => {
  it("gives a worker THREAD_POOL_SIZE threads when the operator's environment names no size", () => {
    assert.equal(threadPoolEnv({ PATH: '/bin' })['UV_THREADPOOL_SIZE'], String(THREAD_POOL_SIZE));
    assert.equal(threadPoolEnv({ UV_THREADPOOL_SIZE: '' })['UV_THREADPOOL_SIZE'], String(THREAD_POOL_SIZE));
  });

  it('keeps a size the operator chose', () => {
    assert.equal(threadPoolEnv({ UV_THREADPOOL_SIZE: '6' })['UV_THREADPOOL_SIZE'], '6');
  });
});
