/**
 * The config's `userDefaults:`: limits every account gets unless it sets them itself. A users-file
 * account without a quota gets the default one (an upload over it: 552), an account with its own
 * quota keeps it, one with an explicit 0 has none; `ferry users show` says where a value comes
 * from; SIGHUP with a new default applies to the session already running; moving such an account's
 * home forgets its usage, as for an account with its own quota.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferryOk, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { storeCode } from '../support/ftps-session.js';

let dir: string;
let config: string;
let server: ServeProcess;

const configText = (quotaSize: string): string =>
  `dataDir: ${path.join(dir, 'data')}\nuserDefaults:\n  quotaSize: ${quotaSize}\n  maxSessions: 5\n`;

const users = (args: string[], input?: string): Promise<string> =>
  ferryOk(['users', ...args, '--config', config], input);

async function session(user: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login(user, `pw-${user}`);
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

describe('userDefaults in ferry.yaml', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-user-defaults-'));
    config = path.join(dir, 'ferry.yaml');
    await mkdir(path.join(dir, 'data'));
    await writeFile(config, configText('1K'));
    for (const [name, ...limits] of [
      ['carol'],
      ['erin', '--quota-size', '5K'],
      ['dave', '--quota-size', '0'],
    ]) {
      const home = path.join(dir, name ?? '');
      await mkdir(home);
      await users(['add', name ?? '', '--home', home, ...limits, '--password-stdin'], `pw-${name}\n`);
    }
    server = await ServeProcess.start(['--config', config, '--workers', '1'], dir);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an account without a quota gets the default; one with its own (or 0) keeps it; a reload changes it', async () => {
    const shown = await users(['show', 'carol']);
    assert.match(shown, /quota size\s+1 KiB; usage not counted yet.*\(userDefaults\)/);
    assert.match(shown, /max sessions\s+5\s+\(userDefaults\)/);
    assert.match(await users(['show', 'erin']), /quota size\s+5 KiB; usage not counted yet \([^)]*\)$/m);
    assert.match(await users(['show', 'dave']), /quota size\s+none$/m);
    const json = JSON.parse(await users(['show', 'carol', '--json'])) as Record<string, unknown>;
    assert.deepEqual(json['fromUserDefaults'], ['maxSessions', 'quotaSize']);
    assert.equal((json['effective'] as Record<string, unknown>)['quotaSize'], 1024);
    assert.equal(json['quotaSize'], undefined); // the users file is left as it was

    const carol = await session('carol');
    assert.equal(await storeCode(carol, 'big', 1500), 552);
    const erin = await session('erin');
    assert.equal(await storeCode(erin, 'big', 1500), 226);
    const dave = await session('dave');
    assert.equal(await storeCode(dave, 'big', 1500), 226);

    // A larger default: carol's running session takes it at its next command.
    await writeFile(config, configText('4K'));
    const from = server.log.length;
    server.child.kill('SIGHUP');
    await server.waitForLog(
      (l) => server.log.indexOf(l) >= from && l.msg === 'configuration reloaded',
      'the reload',
    );
    assert.equal(await storeCode(carol, 'big', 1500), 226);
    assert.equal(await storeCode(erin, 'big2', 4000), 552); // 1500 + 4000 > her own 5K
    assert.match(
      await users(['show', 'carol']),
      /quota size\s+1\.46 KiB used of 4 KiB \(36%\)\s+\(userDefaults\)/,
    );
    await Promise.all([carol.close(), erin.close(), dave.close()]);
  });

  test("users set --home on an account whose quota comes from userDefaults forgets the old home's usage", async () => {
    assert.match(await users(['show', 'carol']), /quota size\s+1\.46 KiB used of/); // the test before
    const moved = path.join(dir, 'carol-moved');
    await mkdir(moved);
    await users(['set', 'carol', '--home', moved]);
    // The new home holds nothing: the old home's 1.46 KiB would refuse uploads it has room for.
    assert.match(await users(['show', 'carol']), /quota size\s+4 KiB; usage not counted yet/);
  });
});
