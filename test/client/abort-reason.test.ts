/**
 * An aborted call says why: the AbortSignal's reason is the ERR_ABORTED error's `cause` (an app's
 * own Error, or the TimeoutError of `AbortSignal.timeout()`), and a timeout is named in the message,
 * for a transfer aborted mid-way, one aborted before it starts, and connecting.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf } from './helpers.js';

const HUGE = 10 * 60_000;
/** What `AbortSignal.timeout()` aborts with, made at once (no timer in the test). */
const timedOut = (): DOMException =>
  new DOMException('The operation was aborted due to timeout', 'TimeoutError');

/** Asserts ERR_ABORTED with `reason` as its cause and a message naming a timeout only for one. */
function abortedBy(reason: Error, message: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.code, 'ERR_ABORTED');
    assert.equal(err.cause, reason);
    assert.match(err.message, message);
    return true;
  };
}

const reasons = [
  { title: "the app's own reason", reason: () => new Error('my reason'), message: /^Transfer aborted\.$/ },
  { title: 'a timed-out signal', reason: timedOut, message: /^Transfer aborted: its signal timed out\.$/ },
];

describe('an aborted transfer keeps the reason of its signal', { timeout: 30_000 }, () => {
  let ts: TestServer;
  let c: FerryClient;
  let onReply: (() => void) | undefined;
  before(async () => {
    ts = await startFerry();
    const log = (e: ProtocolEvent): void => {
      const action = onReply;
      if (action && e.kind === 'reply' && e.reply.code >= 100 && e.reply.code < 200) {
        onReply = undefined;
        queueMicrotask(action);
      }
    };
    c = await FerryClient.connect({ ...(await optionsOf(ts, 'explicit')), replyTimeoutMs: HUGE, log });
    await c.put(Readable.from([Buffer.alloc(300_000)]), 'src.bin');
  });
  after(async () => {
    c?.destroy();
    await ts?.close();
  });

  for (const { title, reason: make, message } of reasons) {
    for (const verb of ['get', 'put'] as const) {
      it(`${verb} aborted as its 1xx arrives, by ${title}`, async () => {
        const ac = new AbortController();
        const reason = make();
        onReply = () => ac.abort(reason);
        const signal = ac.signal;
        const op =
          verb === 'get'
            ? c.get('src.bin', new PassThrough().resume(), { signal })
            : c.put(Readable.from([Buffer.alloc(300_000)]), 'dst.bin', { signal });
        await assert.rejects(op, abortedBy(reason, message));
        assert.equal((await c.send('NOOP')).code, 200);
      });
    }

    it(`get with a signal aborted already, by ${title}`, async () => {
      const reason = make();
      const op = c.get('src.bin', new PassThrough().resume(), { signal: AbortSignal.abort(reason) });
      await assert.rejects(op, abortedBy(reason, message));
    });
  }
});

describe('an aborted connect keeps the reason of its signal', { timeout: 30_000 }, () => {
  for (const { title, reason: make } of reasons) {
    it(`aborted while the server is silent, by ${title}`, async () => {
      const ac = new AbortController();
      const reason = make();
      const sockets: net.Socket[] = [];
      const server = net.createServer((s) => {
        sockets.push(s);
        ac.abort(reason);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      const o = { host: '127.0.0.1', port, user: 'a', password: 'b', connectTimeoutMs: HUGE };
      try {
        const timeout = reason.name === 'TimeoutError' ? ': its signal timed out' : '';
        await assert.rejects(
          FerryClient.connect({ ...o, replyTimeoutMs: HUGE, signal: ac.signal }),
          abortedBy(reason, new RegExp(`^Connecting aborted${timeout}\\.$`)),
        );
        await assert.rejects(
          FerryClient.connect({ ...o, signal: AbortSignal.abort(reason) }),
          abortedBy(reason, new RegExp(`^Connecting aborted${timeout}\\.$`)),
        );
      } finally {
        for (const s of sockets) s.destroy();
        server.close();
      }
    });
  }
});
