/**
 * A backend whose write() resolves without reading the upload (an early `return` on a code path)
 * has stored nothing, whatever byte count it claims: the client is told the upload failed (451,
 * logged naming storageFor's write), never 226 for a file that does not exist.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import type { TransferRecord } from '../../src/server/options.js';
import {
  loginAs,
  MODES,
  randomData,
  storeAll,
  textOf,
  useFerry,
  waitForLog,
  withClients,
} from './harness.js';

/** Writes `/lazy*` without reading them, claiming no bytes or some; stores the rest. */
class ForgetfulWrites extends MemoryStorage {
  override async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    if (p === '/lazy0') return { bytes: 0 };
    if (p === '/lazy4000') return { bytes: 4000 };
    return super.write(p, src, o, c);
  }
}

for (const mode of MODES) {
  describe(`an embedder's write() that does not read the upload (${mode})`, { timeout: 60_000 }, () => {
    const transfers: TransferRecord[] = [];
    const storage = new ForgetfulWrites();
    const server = useFerry({ storageFor: () => storage, onTransfer: (r) => transfers.push(r) });

    for (const [path, size] of [
      ['/lazy0', 3],
      ['/lazy4000', 4000],
      ['/lazy0', 1024 * 1024],
    ] as const) {
      test(`${path}, ${size} bytes sent: 451, logged naming storageFor's write, no file`, async () => {
        await withClients(async (track) => {
          const ftp = await loginAs(server(), mode, 'alice', track, server().password);
          await ftp.cmd('TYPE I', 200);
          const from = server().logs.length;
          const r = await storeAll(ftp, `STOR ${path}`, randomData(size));
          assert.equal(
            `${r.code} ${textOf(r)}`,
            '451 Transfer aborted: the server could not write the file.',
          );
          const line = await waitForLog(server(), (l) => l.msg.startsWith('transfer failed'), from);
          assert.match(
            String((line.obj as { err?: unknown }).err),
            new RegExp(
              `options\\.storageFor: its storage's write\\(${path}\\) resolved before reading the upload`,
            ),
          );
          assert.notEqual(transfers.at(-1)?.result, 'ok', 'the transfer record says it failed');
          await ftp.cmd(`SIZE ${path}`, 550);
          // A backend that reads what it is sent still stores it.
          const [, done] = await ftp.store('/kept', Buffer.from('abc'));
          assert.equal(done.code, 226, textOf(done));
          await ftp.cmd('SIZE /kept', 213);
        });
      });
    }
  });
}
