/**
 * connect() options refused with ERR_INVALID_OPTION naming the option, before anything is sent: a
 * timeout longer than a Node.js timer can wait (2^31 - 1 ms: a longer one fires after 1 ms, so
 * `replyTimeoutMs: 2 ** 31` failed every reply at once with ERR_TIMEOUT), and a malformed pinned
 * fingerprint (it was ERR_USAGE after TCP, the greeting, AUTH and the TLS handshake).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf } from './helpers.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

describe('connect() option validation', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let base: ClientOptions;
  before(async () => {
    ts = await startFerry();
    base = await optionsOf(ts);
  });
  after(() => ts?.close());

  /** connect() with `extra` rejects with ERR_INVALID_OPTION naming `key`, nothing logged (sent). */
  async function refused(extra: Partial<ClientOptions>, key: string): Promise<void> {
    const events: ProtocolEvent[] = [];
    await assert.rejects(
      FerryClient.connect({ ...base, ...extra, log: (e) => events.push(e) }),
      (err: unknown) => {
        assert.ok(err instanceof FerryError, String(err));
        assert.equal(err.code, 'ERR_INVALID_OPTION', err.message);
        assert.ok(err.message.startsWith(`options.${key}: `), err.message);
        return true;
      },
    );
    assert.deepEqual(events, []);
  }

  for (const key of ['connectTimeoutMs', 'replyTimeoutMs', 'dataTimeoutMs', 'handshakeTimeoutMs'] as const) {
    it(`${key} above 2^31 - 1 ms`, () => refused({ [key]: MAX_TIMER_MS + 1 }, key));
  }

  it('timeouts of 2^31 - 1 ms are taken, and wait', async () => {
    const c = await FerryClient.connect({
      ...base,
      connectTimeoutMs: MAX_TIMER_MS,
      replyTimeoutMs: MAX_TIMER_MS,
      dataTimeoutMs: MAX_TIMER_MS,
      handshakeTimeoutMs: MAX_TIMER_MS,
    });
    try {
      assert.equal((await c.send('NOOP')).code, 200);
      assert.deepEqual(await c.list('/'), []);
    } finally {
      await c.close();
    }
  });

  it('a malformed fingerprint', () => refused({ fingerprints: ['66:64:33'] }, 'fingerprints'));
});
