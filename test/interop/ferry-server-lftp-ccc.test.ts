/**
 * Real lftp (4.9, GnuTLS) with `ftp:ssl-use-ccc` against a server with allowCcc: after CCC's 200
 * lftp sends its close_notify and waits for the server's; one that arrives with the 200 it reads in
 * the same go and takes for a lost connection ("Peer closed connection"). The listing after CCC
 * (data still protected) must come through, under TLS 1.3 and 1.2, run after run.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { expectSuccess, lftp } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { problemLogs, targetsOf } from './ferry-server-helpers.js';

const RUNS = 3;
const PRIORITIES = { 'TLS 1.3': 'NORMAL', 'TLS 1.2': 'NORMAL:-VERS-TLS1.3' } as const;

/** The reply codes Ferry logged for `verb`, in order. */
function replies(ts: TestServer, verb: string): number[] {
  return ts.logs.flatMap((l) =>
    l.msg === 'command' && 'command' in l.obj && l.obj.command === verb && 'reply' in l.obj
      ? [Number(l.obj.reply)]
      : [],
  );
}

describe('lftp CCC against the Ferry server', { timeout: 120_000 }, () => {
  let ts: TestServer;

  before(async () => {
    ts = await startFerry({ allowCcc: true });
    await writeFile(path.join(ts.root, 'listed-after-ccc.txt'), 'x\n');
  });

  after(async () => {
    await ts?.close();
  });

  for (const [version, priority] of Object.entries(PRIORITIES)) {
    it(`${version}: CCC 200, then a protected listing, ${RUNS} runs out of ${RUNS}`, async () => {
      const before = replies(ts, 'CCC').length;
      for (let i = 0; i < RUNS; i++) {
        const r = await lftp(targetsOf(ts).explicit, ['cls -1'], {
          settings: ['ftp:ssl-use-ccc true', `ssl:priority ${priority}`],
        });
        expectSuccess(r, `lftp CCC run ${i + 1} (${version})`);
        assert.match(r.stdout, /^listed-after-ccc\.txt$/m);
      }
      assert.deepEqual(replies(ts, 'CCC').slice(before), Array<number>(RUNS).fill(200));
    });
  }

  it('Ferry logged no warnings or errors for these sessions', () => {
    assert.equal(problemLogs(ts), '');
  });
});
