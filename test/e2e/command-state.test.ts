/**
 * Session state that commands set for later ones: one-shot state (REST, RNFR) lives for the next
 * command only (RFC 959 4.1.3), read-only accounts are refused at the first command of a rename,
 * and CCC before login cannot leave a session that can never log in.
 */
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Authenticator } from '../../src/auth/types.js';
import {
  connectSecure,
  loggedIn,
  MODES,
  randomData,
  assertSameBytes,
  textOf,
  useFerry,
  withClients,
} from './harness.js';

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

for (const mode of MODES) {
  describe(`one-shot state (${mode})`, { timeout: 60_000 }, () => {
    const server = useFerry();

    test('a REST offset applies to the next transfer only: a failed RETR or a NOOP uses it up', async () => {
      const full = randomData(10_000);
      await writeFile(path.join(server().root, 'whole.bin'), full);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        // retrieve() sends EPSV before RETR: setting up the data connection keeps the offset.
        await ftp.cmd('REST 5000', 350);
        assertSameBytes(await ftp.retrieve('whole.bin'), full.subarray(5000), 'REST, EPSV, RETR');
        await ftp.cmd('REST 5000', 350);
        await ftp.cmd('RETR missing.bin', 550);
        assertSameBytes(await ftp.retrieve('whole.bin'), full, 'after a failed RETR');
        await ftp.cmd('REST 5000', 350);
        await ftp.cmd('NOOP', 200);
        assertSameBytes(await ftp.retrieve('whole.bin'), full, 'after a NOOP');
        await ftp.cmd('REST 5000', 350);
        await ftp.cmd('REST 7000', 350); // the last REST wins
        assertSameBytes(await ftp.retrieve('whole.bin'), full.subarray(7000), 'after REST REST');
      });
    });

    test('a REST offset does not carry over into an upload after another command', async () => {
      const body = randomData(3000);
      await writeFile(path.join(server().root, 'up.bin'), randomData(8000));
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.cmd('REST 4000', 350);
        await ftp.cmd('PWD', 257);
        const [, done] = await ftp.store('up.bin', body);
        assert.equal(done.code, 226, textOf(done));
        assertSameBytes(await readFile(path.join(server().root, 'up.bin')), body, 'replaced, not resumed');
      });
    });

    test('RNTO must follow RNFR at once: any other command in between → 503 and nothing moves', async () => {
      await writeFile(path.join(server().root, 'stay.txt'), 'stay');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('RNFR stay.txt', 350);
        await ftp.cmd('NOOP', 200);
        await ftp.cmd('RNTO moved.txt', 503);
        assert.ok(await exists(path.join(server().root, 'stay.txt')));
        assert.ok(!(await exists(path.join(server().root, 'moved.txt'))));
        await ftp.cmd('RNFR stay.txt', 350);
        await ftp.cmd('RNTO moved.txt', 250);
        assert.ok(await exists(path.join(server().root, 'moved.txt')));
      });
    });
  });
}

describe('read-only accounts', { timeout: 60_000 }, () => {
  let home = '';
  const authenticator: Authenticator = {
    async authenticate(c) {
      const ok = c.username === 'reader' && c.password.reveal() === 'secret';
      return ok
        ? { ok: true, principal: { username: 'reader', home, readOnly: true } }
        : { ok: false, reason: 'bad password' };
    },
  };
  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-reader-'));
    await writeFile(path.join(home, 'keep.txt'), 'keep');
    await mkdir(path.join(home, 'dir'));
  });
  after(() => rm(home, { recursive: true, force: true }));
  const server = useFerry({ authenticator });

  for (const mode of MODES) {
    test(`${mode}: RNFR is refused with 550 at once; the files stay`, async () => {
      await withClients(async (track) => {
        const ftp = track(await connectSecure(server(), mode));
        await ftp.login('reader', 'secret');
        assert.match(textOf(await ftp.cmd('RNFR keep.txt', 550)), /permission/i);
        await ftp.cmd('RNFR dir', 550);
        await ftp.cmd('RNTO other.txt', 550);
        await ftp.cmd('DELE keep.txt', 550);
        await ftp.cmd('MKD new', 550);
        await ftp.cmd('RMD dir', 550);
        assert.ok(await exists(path.join(home, 'keep.txt')));
        assert.ok(await exists(path.join(home, 'dir')));
      });
    });
    test(`${mode}: the perm fact shows no write letters, FEAT no MFMT`, async () => {
      await withClients(async (track) => {
        const ftp = track(await connectSecure(server(), mode));
        await ftp.login('reader', 'secret');
        assert.match(textOf(await ftp.cmd('MLST keep.txt', 250)), /perm=r;/);
        assert.match(textOf(await ftp.cmd('MLST dir', 250)), /perm=el;/);
        const feat = (await ftp.cmd('FEAT', 211)).lines.map((l) => l.trim());
        assert.ok(!feat.includes('MFMT') && feat.includes('REST STREAM'), feat.join('|'));
      });
    });
  }
});

describe('CCC before login (allowCcc)', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('explicit: CCC before login → 503; the session stays in TLS and can log in', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('CCC', 503);
      assert.ok(ftp.secure);
      await ftp.login(server().user, server().password);
      await ftp.cmd('PWD', 257);
    });
  });

  test('implicit: CCC before login → 533 as always (MS-FTPS 3.2.5.2); login still works', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      await ftp.cmd('CCC', 533);
      await ftp.login(server().user, server().password);
    });
  });
});
