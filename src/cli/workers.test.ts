import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerExecArgv, YOUNG_GENERATION } from './workers.js';

describe('workerExecArgv', () => {
  it("adds the young-generation size to the primary's Node options", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps', YOUNG_GENERATION]);
  });

  it('keeps a size the operator chose', () => {
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=16']), ['--max-semi-space-size=16']);
  });
});
