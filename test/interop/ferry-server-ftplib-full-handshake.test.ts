/**
 * Stock Python ftplib (python.org/pyenv builds: strict EOF) on data connections that do not resume
 * a TLS session, which Ferry takes with requireSessionReuse off and after CCC. On TLS 1.3 such a
 * full handshake issues two session tickets; a small download's bytes sent before them made
 * OpenSSL's client fail the connection (decode_error, no close_notify) and every later reply came
 * one command late. Each download must arrive whole and the session go on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ftplib, type FtplibAction, type FtplibResult } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { MODES, sha256, targetsOf } from './ferry-server-helpers.js';

/** Under one TLS record (16 KiB), where the bytes fit before the tickets; and one byte. */
const SIZES = [1, 1000, 16_000] as const;

/** The same random files in each root; their SHA-256 by size. */
async function writeFiles(roots: readonly string[]): Promise<Map<number, string>> {
  const sums = new Map<number, string>();
  for (const size of SIZES) {
    const data = randomBytes(size);
    for (const root of roots) await writeFile(path.join(root, `f${size}.bin`), data);
    sums.set(size, sha256(data));
  }
  return sums;
}

/** Each download, then a NOOP whose reply must be its own (200), not a transfer's left behind. */
const downloads: FtplibAction[] = SIZES.flatMap((size) => [
  { op: 'download', remote: `f${size}.bin`, local: '/dev/null' },
  { op: 'raw', command: 'NOOP' },
]);

function assertWhole(results: readonly FtplibResult[], sums: Map<number, string>): void {
  SIZES.forEach((size, i) => {
    const [download, noop] = [results[2 * i], results[2 * i + 1]];
    assert.equal(download?.ok, true, `${size} B: ${JSON.stringify(download)}`);
    assert.equal(download?.sha256, sums.get(size), `${size} B`);
    assert.equal(noop?.code, '200', `${size} B: ${JSON.stringify(noop)}`);
  });
}

const CLIENT = { continueOnError: true, strictEof: true, socketTimeoutSec: 20 } as const;

describe('stock ftplib downloads over full TLS 1.3 data handshakes', { timeout: 120_000 }, () => {
  let open: TestServer;
  let ccc: TestServer;
  let sums: Map<number, string>;
  before(async () => {
    open = await startFerry({ tls: { requireSessionReuse: false } });
    ccc = await startFerry({ allowCcc: true });
    sums = await writeFiles([open.root, ccc.root]);
  });
  after(async () => {
    await open?.close();
    await ccc?.close();
  });

  for (const mode of MODES) {
    it(`${mode}, requireSessionReuse off: each small download whole, the replies in step`, async () => {
      const run = await ftplib(targetsOf(open)[mode], [{ op: 'login' }, ...downloads], {
        ...CLIENT,
        reuseSession: false,
      });
      assert.equal(run.results[0]?.ok, true, JSON.stringify(run.results[0]));
      assertWhole(run.results.slice(1), sums);
    });
  }

  it('explicit, after CCC (no session left to offer): each small download whole', async () => {
    const run = await ftplib(targetsOf(ccc).explicit, [{ op: 'login' }, { op: 'ccc' }, ...downloads], CLIENT);
    assert.equal(run.results[1]?.ok, true, JSON.stringify(run.results[1]));
    assertWhole(run.results.slice(2), sums);
  });
});
