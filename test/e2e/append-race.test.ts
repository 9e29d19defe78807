/**
 * Four sessions APPE 1 MiB each to one file at once, over both modes. With the process's upload
 * locks shared by the sessions' storages (as `ferry serve` builds them) every append is kept, one
 * after another. With a storage per session and no shared locks (like sessions in different
 * worker processes) some appends are refused (451), and none that got 226 is lost.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { LocalStorage } from '../../src/storage/local.js';
import { UploadLocks } from '../../src/storage/upload-locks.js';
import { appendAtOnce, assertAppendsKept, LETTERS } from '../support/append-race.js';
import type { TestServer } from '../support/ferry.js';
import { loggedIn, MODES, useFerry, withClients, type Mode } from './harness.js';

/** Four sessions' APPEs to a new empty file at once: the letters kept (226), checked against the file. */
async function race(ts: TestServer, mode: Mode): Promise<string[]> {
  const name = `log-${mode}.txt`;
  await writeFile(path.join(ts.root, name), '');
  const replies = await withClients(async (track) =>
    appendAtOnce(await Promise.all(LETTERS.map(async () => track(await loggedIn(ts, mode)))), name),
  );
  return assertAppendsKept(await readFile(path.join(ts.root, name)), replies);
}

describe('concurrent APPE to one file, locks shared by the sessions', { timeout: 120_000 }, () => {
  const server = useFerry(() => {
    const locks = new UploadLocks();
    return { storageFor: (p) => new LocalStorage({ root: p.home, readOnly: p.readOnly, locks }) };
  });

  for (const mode of MODES) {
    test(`${mode}: four sessions append 1 MiB each at once; every byte of every append is kept`, async () => {
      assert.deepEqual((await race(server(), mode)).sort(), LETTERS, 'every session got 226');
    });
  }
});

describe('concurrent APPE to one file, no shared locks (as across processes)', { timeout: 120_000 }, () => {
  const server = useFerry(); // a LocalStorage per session, each with its own locks

  for (const mode of MODES) {
    test(`${mode}: an append that is not kept is refused (451); every 226 append is in the file`, async () => {
      assert.ok((await race(server(), mode)).length >= 1, 'the first rename meets no change');
    });
  }
});
