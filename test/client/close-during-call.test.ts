/**
 * close() while a call runs: the call rejects with ERR_CLOSED whatever it was doing (it got
 * ERR_BUSY when close()'s QUIT took the reply it awaited, or ERR_TLS / ERR_DATA_CONNECTION when its
 * data connection went with the control connection: the caller's own close is no network failure),
 * and close() itself resolves. Each moment of the call (every command written, every reply read) is
 * tried in turn.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf } from './helpers.js';

type Call = (c: FerryClient) => Promise<unknown>;

const calls: readonly [string, Call][] = [
  ['list', (c) => c.list('/')],
  ['get to a stream', (c) => c.get('/f.txt', new Writable({ write: (_chunk, _enc, done) => done() }))],
];

describe('close() while a call runs', { timeout: 120_000 }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startFerry();
    await writeFile(path.join(ts.root, 'f.txt'), 'x'.repeat(100_000));
  });
  after(() => ts?.close());

  /**
   * Runs `call` on a new client; with `at`, closes it at the call's `at`-th protocol event (a
   * command written, a reply read). Returns the call's error (undefined: it succeeded) and the
   * number of events it saw.
   */
  async function run(call: Call, at?: number): Promise<{ outcome: unknown; events: number }> {
    let events = 0;
    let closing: Promise<void> | undefined;
    const holder: { client?: FerryClient } = {};
    const log = (e: ProtocolEvent): void => {
      if (!holder.client || e.kind === 'info') return;
      if (events++ === at) queueMicrotask(() => (closing = holder.client?.close()));
    };
    const client = await FerryClient.connect({ ...(await optionsOf(ts)), log });
    holder.client = client;
    const outcome = await call(client).then(
      () => undefined,
      (err: unknown) => err,
    );
    const seen = events;
    await (closing ?? client.close());
    assert.equal(client.closed, true);
    return { outcome, events: seen };
  }

  for (const [title, call] of calls) {
    it(`${title}: ERR_CLOSED at every moment before its last reply`, async () => {
      const { events } = await run(call);
      assert.ok(events >= 4, `only ${events} events`);
      // Closed as the last reply (the transfer's 226) arrives, the call may have succeeded.
      for (let at = 0; at < events - 1; at++) {
        const { outcome } = await run(call, at);
        assert.ok(outcome instanceof FerryError, `event ${at}: ${String(outcome)}`);
        assert.equal(outcome.code, 'ERR_CLOSED', `event ${at}: ${outcome.message}`);
      }
    });
  }

  it('a call after close() has begun: ERR_CLOSED, nothing sent', async () => {
    const commands: string[] = [];
    const c = await FerryClient.connect({
      ...(await optionsOf(ts)),
      log: (e) => e.kind === 'command' && commands.push(e.text),
    });
    const closing = c.close();
    await assert.rejects(c.list('/'), { code: 'ERR_CLOSED' });
    await closing;
    assert.deepEqual(commands.slice(-1), ['QUIT']);
  });
});
