/**
 * The progress of a download that a batch or a mirror tries again after it was cut short (426 after
 * some bytes) and that continues with REST: it goes on from the bytes the failed try wrote, of the
 * whole file. It started again from 0 (of what was left), so the bar fell back and its rate and ETA
 * were wrong.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { transferBatch, type BatchEvent } from '../../src/client/batch.js';
import { FerryClient } from '../../src/client/client.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { FakeFtp } from './support/fake-ftp.js';

const BODY = Buffer.from('0123456789abcdef'.repeat(1000)); // 16,000 bytes
const CUT = 5000;

describe('progress of a retried download that continues (REST)', { timeout: 60_000 }, () => {
  let tmp: string;
  let server: FakeFtp;
  let cuts = 0;
  const clients: FerryClient[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-retry-progress-'));
    // The first RETR of each test is cut after CUT bytes; the retry gets the rest.
    server = await FakeFtp.start({
      features: ['MLSD', 'SIZE', 'REST STREAM'],
      cut: () => (cuts++ === 0 ? CUT : undefined),
    });
    server.files.set('big.bin', { data: BODY, modified: new Date('2024-01-02T03:04:05Z') });
  });

  after(async () => {
    for (const c of clients) await c.close();
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const connect = async (): Promise<FerryClient> => {
    const c = await FerryClient.connect(`ftp://u@127.0.0.1:${server.port}/`, {
      password: 'p',
      allowPlain: true,
    });
    clients.push(c);
    return c;
  };

  /** The progress after the retry: what it starts at, and whether it ever went back. */
  const afterRetry = (progress: { bytes: number; total?: number | undefined; retried: boolean }[]) => {
    const first = progress.find((p) => p.retried);
    const backwards = progress.some((p, i) => i > 0 && p.bytes < (progress[i - 1]?.bytes ?? 0));
    return { first, backwards, last: progress.at(-1) };
  };

  it('mirror: the retry starts at the bytes already written, of the whole size', async () => {
    cuts = 0;
    const local = path.join(tmp, 'mirror');
    const progress: { bytes: number; total: number | undefined; retried: boolean }[] = [];
    let retried = false;
    const onEvent = (e: MirrorEvent): void => {
      if (e.kind === 'retry') retried = true;
      if (e.kind === 'progress') progress.push({ bytes: e.bytes, total: e.total, retried });
    };
    const r = await mirror(await connect(), {
      direction: 'download',
      local,
      remote: '',
      retries: 1,
      connect,
      onEvent,
    });
    assert.deepEqual(await readFile(path.join(local, 'big.bin')), BODY);
    assert.ok(retried, 'the first try was not cut');
    assert.ok(server.commands.includes(`REST ${CUT}`), server.commands.join('\n'));
    const { first, backwards, last } = afterRetry(progress);
    assert.deepEqual(first, { bytes: CUT, total: BODY.length, retried: true });
    assert.equal(backwards, false, JSON.stringify(progress));
    assert.deepEqual(last, { bytes: BODY.length, total: BODY.length, retried: true });
    assert.equal(r.bytes, BODY.length);
  });

  it('get of several files: the retry starts at the bytes already written', async () => {
    cuts = 0;
    const local = path.join(tmp, 'batch.bin');
    const progress: { bytes: number; retried: boolean }[] = [];
    let retried = false;
    const onEvent = (e: BatchEvent): void => {
      if (e.kind === 'retry') retried = true;
      if (e.kind === 'progress') progress.push({ bytes: e.bytes, retried });
    };
    const job = { remote: 'big.bin', local, size: BODY.length };
    const r = await transferBatch(await connect(), [job], {
      direction: 'download',
      retries: 1,
      connect,
      onEvent,
    });
    assert.deepEqual(r.failures, []);
    assert.deepEqual(await readFile(local), BODY);
    assert.ok(retried, 'the first try was not cut');
    const { first, backwards, last } = afterRetry(progress);
    assert.deepEqual(first, { bytes: CUT, retried: true });
    assert.equal(backwards, false, JSON.stringify(progress));
    assert.deepEqual(last, { bytes: BODY.length, retried: true });
  });
});
