/**
 * The order of LIST, NLST and STAT: by name in byte order as vsftpd, ProFTPD and Pure-FTPd give
 * it (a command-line client shows the server's order), or as the ls options sent ask (`-t`, `-S`,
 * `-r`, `-U`); MLSD in the storage's own order.
 */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseListLine } from '../../src/protocol/listing.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

/** Name, size, age in days (distinct sizes and times, neither in name order). */
const FILES: [string, number, number][] = [
  ['b.txt', 30, 2],
  ['a.txt', 10, 5],
  ['C.txt', 50, 1],
  ['_under', 20, 9],
  ['é.txt', 60, 3],
  ['😀.txt', 40, 7], // U+1F600: after U+FF5A in byte order, before it in UTF-16's
  ['ｚ.txt', 70, 4], // U+FF5A
  ['10.txt', 80, 6],
  ['9.txt', 90, 8],
];

/** The names as strcmp orders their UTF-8 bytes. */
const BY_BYTES = FILES.map(([n]) => n).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

function lines(text: string): string[] {
  return text === '' ? [] : text.slice(0, -2).split('\r\n');
}

for (const mode of MODES) {
  describe(`listing order (${mode})`, { timeout: 60_000 }, () => {
    const server = useFerry();
    before(async () => {
      const dir = path.join(server().root, 'mixed');
      await mkdir(dir);
      // Created in an order that is neither sorted nor reversed (tmpfs lists newest first).
      for (const i of [4, 0, 7, 2, 8, 5, 1, 6, 3]) {
        const [name, size, days] = FILES[i] ?? assert.fail(`no file ${i}`);
        const file = path.join(dir, name);
        await writeFile(file, Buffer.alloc(size, 0x61));
        const t = new Date(Date.now() - days * 86_400_000);
        await utimes(file, t, t);
      }
    });

    const names = (text: string): string[] => lines(text).map((l) => parseListLine(l)?.name ?? l);

    test('LIST, NLST and STAT give the names in byte order (strcmp, as vsftpd and ProFTPD)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.deepEqual(names(await ftp.listing('LIST', 'mixed')), BY_BYTES);
        assert.deepEqual(names(await ftp.listing('LIST', '-la mixed')), BY_BYTES);
        assert.deepEqual(
          lines(await ftp.listing('NLST', 'mixed')),
          BY_BYTES.map((n) => `mixed/${n}`),
        );
        assert.deepEqual(
          lines(await ftp.listing('NLST', 'mixed/*.txt')),
          BY_BYTES.filter((n) => n.endsWith('.txt')).map((n) => `mixed/${n}`),
        );
        const stat = textOf(await ftp.cmd('STAT mixed', 212))
          .split('\n')
          .map((l) => parseListLine(l.trim())?.name)
          .filter((n) => n !== undefined);
        assert.deepEqual(stat, BY_BYTES);
      });
    });

    test('LIST -lt is newest first, -ltr oldest first, -lS largest first, -lSr smallest first', async () => {
      const byAge = [...FILES].sort((a, b) => a[2] - b[2]).map(([n]) => n);
      const bySize = [...FILES].sort((a, b) => b[1] - a[1]).map(([n]) => n);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('CWD mixed', 250);
        assert.deepEqual(names(await ftp.listing('LIST', '-lt')), byAge);
        assert.deepEqual(names(await ftp.listing('LIST', '-l -t -r')), [...byAge].reverse());
        assert.deepEqual(names(await ftp.listing('LIST', '-lS')), bySize);
        assert.deepEqual(names(await ftp.listing('LIST', '--sort=size -r')), [...bySize].reverse());
        assert.deepEqual(names(await ftp.listing('LIST', '-lr')), [...BY_BYTES].reverse());
        assert.deepEqual(lines(await ftp.listing('NLST', '-t')), byAge);
        // -U (unsorted) and MLSD: every name, in whatever order the directory holds them.
        assert.deepEqual(names(await ftp.listing('LIST', '-lU')).sort(), [...BY_BYTES].sort());
        const mlsd = lines(await ftp.listing('MLSD')).map((l) => l.slice(l.indexOf(' ') + 1));
        assert.deepEqual(mlsd.sort(), [...BY_BYTES].sort());
      });
    });
  });
}

/** Lists `/slow` one entry a batch, each after DATA_IDLE_MS / 3: slow, but always moving. */
class SlowListing extends MemoryStorage {
  override list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    const batches = super.list(dir, c);
    if (!dir.endsWith('/slow')) return batches;
    return (async function* () {
      for await (const batch of batches)
        for (const e of batch) {
          await new Promise((resolve) => setTimeout(resolve, DATA_IDLE_MS / 3));
          yield [e];
        }
    })();
  }
}
const DATA_IDLE_MS = 300;

describe('a sorted listing of a slow storage', { timeout: 60_000 }, () => {
  const server = useFerry({ storageFor: () => new SlowListing(), timeouts: { dataIdleMs: DATA_IDLE_MS } });

  test('is not cut by the data idle timeout while its entries are held to be sorted (over 3 timeouts)', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD slow', 257);
      const names = ['m', 'c', 'x', 'a', 'q', 'b', 'z', 'k', 'd'];
      for (const n of names) await ftp.store(`slow/${n}`, Buffer.from(n));
      assert.deepEqual(
        lines(await ftp.listing('NLST', 'slow')),
        names.sort().map((n) => `slow/${n}`),
      );
    });
  });
});
