/**
 * An upload that stops moving is blamed on the side that stopped: the caller's put() stream that
 * gives no more data fails as a local error (ERR_LOCAL, the transfer aborted with ABOR, the client
 * still usable), a server that stops reading as the data connection's stall (ERR_DATA_CONNECTION).
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { LocalError } from '../../src/client/errors.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf } from './helpers.js';
import { StallingFtp } from './support/stalling-ftp.js';

const STALL_MS = 300;

describe("put(): a stream that gives no more data is the caller's stall, not the connection's", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startFerry();
  });
  after(() => ts?.close());

  it(
    'ERR_LOCAL naming the stream, the transfer aborted and the client usable',
    { timeout: 30_000 },
    async () => {
      const c = await FerryClient.connect({ ...(await optionsOf(ts, 'explicit')), dataTimeoutMs: STALL_MS });
      try {
        const source = new PassThrough();
        source.write('abc'); // then nothing, and no end
        await assert.rejects(c.put(source, 'stalled.txt'), (err: unknown) => {
          assert.ok(err instanceof LocalError, String(err));
          assert.equal(err.code, 'ERR_LOCAL');
          assert.equal(
            err.message,
            `The stream given to put() gave no data for ${STALL_MS} ms (dataTimeoutMs): the upload was aborted.`,
          );
          return true;
        });
        assert.equal(c.closed, false);
        assert.equal((await c.send('NOOP')).code, 200);
      } finally {
        c.destroy();
      }
    },
  );
});

it(
  'put() of an endless stream to a server that stops reading: the data connection stalled',
  { timeout: 30_000 },
  async () => {
    const server = await new StallingFtp().listen();
    try {
      const c = await FerryClient.connect(`ftp://u@127.0.0.1:${server.port}/`, {
        password: 'p',
        allowPlain: true,
        dataTimeoutMs: 1000,
      });
      try {
        const chunk = Buffer.alloc(64 * 1024);
        const endless = new Readable({
          read() {
            this.push(chunk);
          },
        });
        await assert.rejects(c.put(endless, 'up.bin'), (err: unknown) => {
          assert.ok(err instanceof FerryError, String(err));
          assert.equal(err.code, 'ERR_DATA_CONNECTION');
          assert.match(err.message, /The data connection stalled: no traffic for 1000 ms\./);
          return true;
        });
      } finally {
        c.destroy();
      }
    } finally {
      await server.close();
    }
  },
);
