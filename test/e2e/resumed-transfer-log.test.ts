/**
 * A resumed transfer (REST n + RETR, REST n + STOR) is told apart from a short complete one in the
 * JSON `transfer` line (`offset`) and in the onTransfer record: the bytes are those sent from n on.
 * A transfer from the start has no `offset` in its line (and 0 in its record).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TransferRecord } from '../../src/server/options.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients, type LogLine } from './harness.js';

const transferLine = (l: LogLine): boolean => l.msg === 'transfer' && 'transfer' in l.obj;
const fieldsOf = (l: LogLine): { bytes?: number; offset?: number } =>
  l.obj as { bytes?: number; offset?: number };

describe('the log of a resumed transfer', { timeout: 60_000 }, () => {
  const records: TransferRecord[] = [];
  const server = useFerry({ onTransfer: (r) => records.push(r) });

  test('REST + RETR: the offset beside the bytes sent, in the log line and the record', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'r.bin'), '0123456789');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      let from = ts.logs.length;
      await ftp.cmd('REST 4', 350);
      assert.equal((await ftp.retrieve('r.bin')).toString(), '456789');
      const resumed = await waitForLog(ts, transferLine, from);
      assert.deepEqual([fieldsOf(resumed).bytes, fieldsOf(resumed).offset], [6, 4]);
      assert.deepEqual([records.at(-1)?.bytes, records.at(-1)?.offset], [6, 4]);
      from = ts.logs.length;
      await ftp.retrieve('r.bin');
      const whole = await waitForLog(ts, transferLine, from);
      assert.deepEqual([fieldsOf(whole).bytes, 'offset' in whole.obj], [10, false]);
      assert.equal(records.at(-1)?.offset, 0);
    });
  });

  test('REST + STOR: the offset beside the bytes received', async () => {
    const ts = server();
    const file = path.join(ts.root, 's.bin');
    await writeFile(file, 'abcd');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      const from = ts.logs.length;
      await ftp.cmd('REST 4', 350);
      const [, done] = await ftp.store('s.bin', Buffer.from('efg'));
      assert.equal(done.code, 226, textOf(done));
      const line = await waitForLog(ts, transferLine, from);
      assert.deepEqual([fieldsOf(line).bytes, fieldsOf(line).offset], [3, 4]);
      assert.equal(await readFile(file, 'utf8'), 'abcdefg');
    });
  });
});
