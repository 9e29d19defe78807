/**
 * Stock Python ftplib (FTP_TLS, whose data connections never resume a TLS session) against Ferry
 * requiring session reuse: the transfer fails at once with 522, as with vsftpd's
 * require_ssl_reuse, instead of when the passive port times out. How the client shows it depends on
 * its build's OP_IGNORE_UNEXPECTED_EOF (README, "Python ftplib").
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ftplib } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { MODES, targetsOf } from './ferry-server-helpers.js';

/** The passive timeout: a 522 that waited for it would come long after the client gave up. */
const DATA_CONNECT_MS = 600_000;
/** ftplib's socket timeout, and well under the passive timeout. */
const CLIENT_TIMEOUT_S = 20;

describe('stock Python ftplib (no TLS session reuse) against Ferry', { timeout: 120_000 }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startFerry({ timeouts: { dataConnectMs: DATA_CONNECT_MS } });
    await writeFile(path.join(ts.root, 'file.txt'), 'stock ftplib\n');
  });
  after(async () => {
    await ts?.close();
  });

  for (const mode of MODES) {
    it(`${mode}: LIST and RETR get 522 at once; the session goes on`, async () => {
      const run = await ftplib(
        targetsOf(ts)[mode],
        [
          { op: 'login' },
          { op: 'list' },
          { op: 'raw', command: 'NOOP' },
          { op: 'download', remote: 'file.txt', local: '/dev/null' },
          { op: 'raw', command: 'NOOP' },
        ],
        { reuseSession: false, continueOnError: true, socketTimeoutSec: CLIENT_TIMEOUT_S },
      );
      const [login, list, noop, download, after] = run.results;
      assert.equal(login?.ok, true, JSON.stringify(login));
      // Before the fix: no reply until the passive timeout; the client's read timed out.
      assert.equal(list?.ok, false);
      assert.match(String(list?.error), /522 Data connection must resume the TLS session/);
      assert.equal(noop?.code, '200', JSON.stringify(noop));
      assert.equal(download?.ok, false);
      assert.match(String(download?.error), /522/);
      assert.equal(after?.code, '200', JSON.stringify(after));
    });

    // python.org and pyenv builds (Python 3.11, OpenSSL 3.0) leave OP_IGNORE_UNEXPECTED_EOF off,
    // which Debian's python3 sets: the data socket's shutdown fails first, and the 522 is left for
    // the next command (what the README says of them).
    it(`${mode}: without OP_IGNORE_UNEXPECTED_EOF, an SSLError, and the 522 answers the next command`, async () => {
      const run = await ftplib(
        targetsOf(ts)[mode],
        [{ op: 'login' }, { op: 'list' }, { op: 'raw', command: 'NOOP' }, { op: 'raw', command: 'NOOP' }],
        { reuseSession: false, continueOnError: true, socketTimeoutSec: CLIENT_TIMEOUT_S, strictEof: true },
      );
      const [login, list, noop, second] = run.results;
      assert.equal(login?.ok, true, JSON.stringify(login));
      assert.equal(list?.ok, false);
      assert.match(String(list?.error), /^SSL\w*Error: /, JSON.stringify(list));
      assert.equal(noop?.code, '522', JSON.stringify(noop));
      assert.equal(second?.code, '200', JSON.stringify(second));
    });
  }
});
