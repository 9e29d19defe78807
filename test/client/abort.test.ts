/**
 * Aborting a transfer at the worst moments, against a real server: the instant the transfer command
 * is written (its 1xx not yet read, the data connection just opened) and the instant its 1xx
 * arrives. The abort must reject with ERR_ABORTED without waiting for a reply timeout (set to ten
 * minutes here, so a hang is caught by the test's own timeout), and the next command on the same
 * client must work: ABOR's replies were counted, none is left to be taken for the next command's.
 * The caller's own stream failing at the same moments (destroyed, or with an error) aborts the
 * transfer the same way, and the call rejects with ERR_LOCAL.
 */
import assert from 'node:assert/strict';
import { Readable, PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { LocalError } from '../../src/client/errors.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { connectToPeer, optionsOf } from './helpers.js';

const HUGE = 10 * 60_000;
const SIZE = 300_000;

/** Runs an action once the log shows the event `when` picks (in a microtask, as a caller would). */
class Trigger {
  private action: (() => void) | undefined;
  constructor(private readonly when: (e: ProtocolEvent) => boolean) {}
  readonly log = (e: ProtocolEvent): void => {
    const action = this.action;
    if (action && this.when(e)) {
      this.action = undefined;
      queueMicrotask(action);
    }
  };
  arm(action: (() => void) | undefined): void {
    this.action = action;
  }
}

const moments: readonly {
  readonly title: string;
  readonly when: (verb: string) => (e: ProtocolEvent) => boolean;
}[] = [
  {
    title: 'as the command is written',
    when: (verb) => (e) => e.kind === 'command' && e.text.startsWith(verb),
  },
  {
    title: 'as its 1xx arrives',
    when: () => (e) => e.kind === 'reply' && e.reply.code >= 100 && e.reply.code < 200,
  },
];

const isAborted = (err: unknown): boolean => err instanceof FerryError && err.code === 'ERR_ABORTED';

/** The client still answers, and its next transfer works (no reply of the last one left over). */
async function usable(c: FerryClient): Promise<void> {
  const r = await c.send('NOOP');
  assert.equal(r.code, 200, `NOOP after the abort: ${r.code} ${r.lines.join(' ')}`);
  assert.ok((await c.list('')).some((e) => e.name === 'abort-src.bin'));
}

/** Aborts a download and an upload at each moment, then checks the client still answers. */
function abortCases(connect: (log: ClientOptions['log']) => Promise<FerryClient>): void {
  for (const m of moments) {
    for (const verb of ['RETR', 'STOR'] as const) {
      it(`${verb} aborted ${m.title}: rejects, the client stays usable`, { timeout: 30_000 }, async () => {
        const trigger = new Trigger(m.when(verb));
        const c = await connect(trigger.log);
        try {
          await c.put(Readable.from([Buffer.alloc(SIZE)]), 'abort-src.bin');
          for (let i = 0; i < 3; i++) {
            const ac = new AbortController();
            const signal = ac.signal;
            trigger.arm(() => ac.abort());
            const op =
              verb === 'RETR'
                ? c.get('abort-src.bin', new PassThrough().resume(), { signal })
                : c.put(Readable.from([Buffer.alloc(SIZE)]), 'abort-dst.bin', { signal });
            await assert.rejects(op, isAborted);
            trigger.arm(undefined);
            await usable(c);
          }
        } finally {
          c.destroy();
        }
      });

      // The stream closed by its owner (an HTTP response whose browser left) or failing. Destroying
      // it reset the data connection as its TLS handshake ended, which vsftpd does not survive
      // ("500 OOPS" in clear, the session over); a close without an error was the server's 426.
      it(
        `${verb}: the caller's stream destroyed ${m.title}: ERR_LOCAL, the client stays usable`,
        { timeout: 30_000 },
        async () => {
          const trigger = new Trigger(m.when(verb));
          const c = await connect(trigger.log);
          try {
            await c.put(Readable.from([Buffer.alloc(SIZE)]), 'abort-src.bin');
            for (const cause of [undefined, new Error('the caller broke it')]) {
              const stream =
                verb === 'RETR' ? new PassThrough().resume() : Readable.from([Buffer.alloc(SIZE)]);
              stream.on('error', () => {});
              trigger.arm(() => stream.destroy(cause));
              const op =
                stream instanceof PassThrough
                  ? c.get('abort-src.bin', stream)
                  : c.put(stream, 'abort-dst.bin');
              await assert.rejects(op, (err: unknown) => {
                assert.ok(err instanceof LocalError, String(err));
                assert.equal(err.code, 'ERR_LOCAL');
                assert.match(err.message, cause ? /the caller broke it/ : /closed before/);
                return true;
              });
              trigger.arm(undefined);
              await usable(c);
            }
          } finally {
            c.destroy();
          }
        },
      );
    }
  }
}

describe('aborting a transfer, Ferry server', { timeout: 60_000 }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startFerry();
  });
  after(() => ts?.close());
  for (const security of ['explicit', 'implicit'] as const) {
    describe(security, () => {
      abortCases(async (log) =>
        FerryClient.connect({ ...(await optionsOf(ts, security)), replyTimeoutMs: HUGE, log }),
      );
    });
  }
});

describe('aborting a transfer, vsftpd', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  before(async () => {
    peer = await startVsftpd();
  });
  after(() => peer?.stop());
  abortCases((log) => connectToPeer(peer, { replyTimeoutMs: HUGE, log }));
});
