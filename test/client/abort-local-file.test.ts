/**
 * What an aborted get() leaves on disk: a signal aborted before the call touches nothing (no file
 * created, none opened, no command sent); an abort before the first byte arrived removes the empty
 * file the download created, as a refused download does; a file that existed before stays as it was.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import type { ProtocolEvent } from '../../src/client/control.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf, randomFile } from './helpers.js';

const isAborted = (err: unknown): boolean => err instanceof FerryError && err.code === 'ERR_ABORTED';

describe('an aborted get() and its local file', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let c: FerryClient;
  let dir: string;
  const commands: string[] = [];
  /** Aborts `controller` (in a microtask, as a caller would) when RETR is written. */
  let onRetr: (() => void) | undefined;
  const log = (e: ProtocolEvent): void => {
    if (e.kind !== 'command') return;
    commands.push(e.text);
    if (e.text.startsWith('RETR') && onRetr) queueMicrotask(onRetr);
  };
  before(async () => {
    ts = await startFerry();
    c = await FerryClient.connect({ ...(await optionsOf(ts)), log });
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-abort-local-'));
    await randomFile(path.join(ts.root, 'big.bin'), 4 << 20);
  });
  after(async () => {
    c?.destroy();
    await ts?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a signal aborted already: no file created, no command sent', async () => {
    const local = path.join(dir, 'never.bin');
    const sent = commands.length;
    await assert.rejects(c.get('/big.bin', local, { signal: AbortSignal.abort() }), isAborted);
    await assert.rejects(stat(local), { code: 'ENOENT' });
    assert.deepEqual(commands.slice(sent), []);
  });

  it('a signal aborted already: a file that was there stays as it was', async () => {
    const local = path.join(dir, 'there.bin');
    await writeFile(local, 'old bytes');
    await assert.rejects(c.get('/big.bin', local, { signal: AbortSignal.abort() }), isAborted);
    assert.equal(await readFile(local, 'utf8'), 'old bytes');
  });

  it('aborted as RETR goes out: the empty file it created is removed', async () => {
    const local = path.join(dir, 'new.bin');
    const ac = new AbortController();
    onRetr = () => ac.abort();
    try {
      await assert.rejects(c.get('/big.bin', local, { signal: ac.signal }), isAborted);
    } finally {
      onRetr = undefined;
    }
    await assert.rejects(stat(local), { code: 'ENOENT' });
    assert.equal((await c.send('NOOP')).code, 200);
  });

  it('aborted as RETR goes out: a file that was there stays as it was', async () => {
    const local = path.join(dir, 'kept.bin');
    await writeFile(local, '');
    const ac = new AbortController();
    onRetr = () => ac.abort();
    try {
      await assert.rejects(c.get('/big.bin', local, { signal: ac.signal }), isAborted);
    } finally {
      onRetr = undefined;
    }
    assert.equal((await stat(local)).size, 0);
  });
});
