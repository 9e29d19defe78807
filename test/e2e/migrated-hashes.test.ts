/**
 * Users brought from vsftpd, ProFTPD or /etc/shadow log in with their crypt hashes, and checking
 * one (plain JavaScript, tens of milliseconds to seconds) never stalls the other sessions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { RawFtp } from '../support/raw-ftp.js';
import { useFerry, withClients } from './harness.js';
import { TEST_HASH_COST } from '../support/test-hashes.js';

const PW = 'pässwörd 123!';
/** `mkpasswd -m sha512crypt -R 10000000 -S slowslowslow right`: seconds of JavaScript to check. */
const SLOW =
  '$6$rounds=10000000$slowslowslow$zuppmLwNnxTMer.FZsmHkgLEGjzb0ExqFnD.y75Jn9ntnlUcmAAAg5GGJtQ7MPVty3fs2EMor3PwIa0lMNShE/';
const users = new UserTable(
  [
    ['bcrypt', '$2b$06$KrnsT96ujvB4fJhAQ3iRjuGBkYLctzOpou8z5rUS7d4hsWDG78ZZC'], // mkpasswd -m bcrypt
    [
      'sha512',
      '$6$s4ltS4ltS4ltS4lt$3Ci8YW94OSexAQElOj6LXjd0eEMzBQkvHZZg8OUY/.FqwolsOkDmoNltPBR8PSFbDeoUPStEO5uWXUSHZ5H0K.',
    ],
    ['apr1', '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'], // openssl passwd -apr1
    ['slow', SLOW],
  ].map(([username = '', passwordHash = '']) => ({ username, passwordHash, home: '' })),
  { hashCost: TEST_HASH_COST },
);

describe('migrated password hashes', { timeout: 60_000 }, () => {
  const server = useFerry({ authenticator: users, storageFor: () => new MemoryStorage() });

  async function connect(track: (c: RawFtp) => RawFtp): Promise<RawFtp> {
    const ts = server();
    const ftp = track(await RawFtp.connect({ host: ts.host, port: ts.implicitPort, implicit: true }));
    await ftp.expect(220);
    return ftp;
  }

  test('log in with the right password only', async () => {
    await withClients(async (track) => {
      for (const user of ['bcrypt', 'sha512', 'apr1']) {
        const ftp = await connect(track);
        await ftp.cmd(`USER ${user}`, 331);
        await ftp.cmd(`PASS ${PW}x`, 530);
        await ftp.cmd(`USER ${user}`, 331);
        await ftp.cmd(`PASS ${PW}`, 230);
      }
    });
  });

  test("another session's NOOP is answered while a slow check runs", async () => {
    await withClients(async (track) => {
      const other = await connect(track);
      await other.cmd('USER bcrypt', 331);
      await other.cmd(`PASS ${PW}`, 230);
      const slow = await connect(track);
      await slow.cmd('USER slow', 331);
      let answered = false;
      slow.send('PASS right');
      const reply = slow.expect(230).then(() => (answered = true));
      reply.catch(() => {}); // the connection is dropped below, unanswered
      await other.cmd('NOOP', 200);
      assert.equal(answered, false, 'the check ended before the NOOP was answered: the test proves nothing');
      slow.socket.destroy(); // its check's thread is ended with it
    });
  });
});
