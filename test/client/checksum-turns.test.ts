/**
 * The client's checksum against a Ferry server whose HASHes take turns (maxHashes 1): a HASH of a
 * small file that waits behind another session's HASH (held by the test, as long as it likes) is not
 * given up when its time is spent, since STAT says it waits; its time counts from its read's start.
 * A HASH whose read stops moving is still given up.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FerryClient } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { GatedStorage } from '../support/gated-storage.js';
import { optionsOf } from './helpers.js';

/** Short, so that a checksum of a small file outlasts it while waiting its turn. */
const REPLY_TIMEOUT_MS = 1000;

describe('checksums while HASHes take turns (maxHashes)', { timeout: 120_000 }, () => {
  const storage = new GatedStorage({
    files: { '/held-a.bin': new Uint8Array(4096), '/held-b.bin': new Uint8Array(4096), '/small.txt': 'abc' },
  });
  let ts: TestServer;
  before(async () => {
    ts = await startFerry({ storageFor: () => storage, limits: { maxHashes: 1 } });
  });
  after(() => ts?.close());

  /** A client whose replies must come within REPLY_TIMEOUT_MS; `seen` resolves on a reply matching `re`. */
  async function impatient(re: RegExp): Promise<{ client: FerryClient; seen: Promise<void> }> {
    let saw = (): void => {};
    const seen = new Promise<void>((resolve) => (saw = resolve));
    const log = (e: ProtocolEvent): void => {
      if (e.kind === 'reply' && re.test(`${e.reply.code} ${e.reply.lines.join(' ')}`)) saw();
    };
    const client = await FerryClient.connect({
      ...(await optionsOf(ts)),
      replyTimeoutMs: REPLY_TIMEOUT_MS,
      log,
    });
    return { client, seen };
  }

  test('a HASH waiting behind another session’s is given its time from its turn on', async () => {
    const first = await FerryClient.connect(await optionsOf(ts));
    const { client, seen } = await impatient(/^211 HASH waiting for its turn\.$/);
    try {
      const held = first.checksum('held-a.bin');
      await storage.readingCount(1);
      const small = client.checksum('small.txt', { size: 3 });
      // Without a STAT (no fix), the small HASH fails after REPLY_TIMEOUT_MS, while still waiting.
      await Promise.race([seen, small]);
      storage.finish('/held-a.bin');
      assert.equal((await small)?.hex, createHash('sha256').update('abc').digest('hex'));
      assert.equal((await held)?.algorithm, 'SHA-256');
    } finally {
      storage.finish('/held-a.bin');
      await Promise.all([first.close(), client.close()]);
    }
  });

  test('a HASH whose read stopped moving is given up (ERR_TIMEOUT), its connection closed', async () => {
    const { client, seen } = await impatient(/^211 HASH in progress: \d+ bytes transferred\.$/);
    try {
      const stuck = client.checksum('held-b.bin', { size: 4096 });
      await assert.rejects(stuck, (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_TIMEOUT');
        assert.match(err.message, /^No reply to HASH from 127\.0\.0\.1 within \d+ ms/);
        return true;
      });
      await seen; // it asked, and was told the read stood still
      assert.equal(client.closed, true);
    } finally {
      storage.finish('/held-b.bin');
      await client.close();
    }
  });
});
