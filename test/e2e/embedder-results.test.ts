/**
 * What an embedder's authenticator and storage give is checked where it comes in: a malformed
 * principal is the authenticator's error (421, logged naming it), never a login; a FileStat whose
 * size is missing or negative fails the command (451, logged) instead of printing `213 undefined`
 * or `size=NaN`; a write that resolves without a byte count is logged (the upload stands); a read
 * stream giving objects fails that RETR (451, logged) where the socket's write threw, uncaught.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { AuthOutcome, Authenticator, Credentials } from '../../src/auth/types.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import {
  connectSecure,
  loginAs,
  MODES,
  textOf,
  useFerry,
  waitForLog,
  withClients,
  type LogLine,
} from './harness.js';

const principal = { username: 'alice', home: '', readOnly: false };

/** Answers by user name, as an embedder's buggy authenticator might. */
const authenticator: Authenticator = {
  async authenticate(c: Credentials): Promise<AuthOutcome> {
    if (c.username === 'badprincipal')
      return { ok: true, principal: { username: 42, home: null } } as unknown as AuthOutcome;
    if (c.username === 'nothing') return undefined as unknown as AuthOutcome;
    // A string where a list belongs: was read letter by letter (its `*` denied every name).
    if (c.username === 'denystring')
      return { ok: true, principal: { ...principal, denyFiles: '*.exe' } } as unknown as AuthOutcome;
    return c.password.reveal() === 'pw' ? { ok: true, principal } : { ok: false, reason: 'password' };
  },
};

/** Sizes an embedder's backend got wrong, by path. */
class WrongSizes extends MemoryStorage {
  override async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    const st = { name: p.slice(1), path: p, type: 'file', modified: new Date(0), mode: 0o644 } as const;
    if (p === '/nosize') return st as unknown as FileStat;
    if (p === '/negsize') return { ...st, size: -5 };
    return super.stat(p, c);
  }

  override async *list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    if (dir !== '/sizeless') return yield* super.list(dir, c);
    yield [
      {
        name: 'x',
        path: '/sizeless/x',
        type: 'file',
        modified: new Date(0),
        mode: 0o644,
      } as unknown as FileStat,
    ];
  }

  /** `/rows` read as objects (rows of a database, say); `/texts` as strings and bytes in object mode. */
  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    if (p === '/rows') return Readable.from([{ row: 1 }]);
    if (p === '/texts') return Readable.from(['ab', Buffer.from('c')]);
    if (p === '/bytes') return Buffer.from('abc') as unknown as Readable; // the bytes, not a stream of them
    return super.openRead(p, o, c);
  }

  override async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    const r = await super.write(p, src, o, c);
    return p === '/wbytes' ? ({ bytes: 'lots' } as unknown as { bytes: number }) : r;
  }
}

/** A log line's error: an Error ('command failed') or its message ('transfer failed'). */
function errorOf(l: LogLine): string {
  const err = (l.obj as { err?: unknown }).err;
  return err instanceof Error ? err.message : String(err);
}

for (const mode of MODES) {
  describe(
    `an embedder's authenticator and storage giving malformed values (${mode})`,
    { timeout: 60_000 },
    () => {
      const storage = new WrongSizes({
        files: { '/a.txt': 'abc', '/sizeless/keep': '', '/rows': 'abc', '/texts': 'abc', '/bytes': 'abc' },
      });
      const server = useFerry({ authenticator, storageFor: () => storage });

      test("a malformed principal or no outcome: 421, logged as the authenticator's error, not logged in", async () => {
        for (const [user, fault] of [
          ['badprincipal', /options\.authenticator: authenticate\(\) gave principal\.username 42/],
          ['nothing', /options\.authenticator: authenticate\(\) gave undefined for an AuthOutcome/],
          ['denystring', /options\.authenticator: authenticate\(\) gave principal\.denyFiles "\*\.exe"/],
        ] as const) {
          await withClients(async (track) => {
            const from = server().logs.length;
            const ftp = track(await connectSecure(server(), mode));
            await ftp.cmd(`USER ${user}`, 331);
            const r = await ftp.cmd('PASS pw');
            // Accounts unavailable, as a thrown authenticator (RFC 959 gives PASS no 451).
            assert.equal(r.code, 421, `${user}: ${textOf(r)}`);
            const line = await waitForLog(server(), (l) => l.level === 'error', from);
            assert.match(line.msg, fault);
            assert.ok(
              !server()
                .logs.slice(from)
                .some((l) => l.msg === 'login'),
              `${user} logged in`,
            );
            await ftp.closed;
          });
        }
      });

      test('a stat without a size or with a negative one: 451 (logged), never printed', async () => {
        await withClients(async (track) => {
          const ftp = await loginAs(server(), mode, 'alice', track);
          for (const [command, fault] of [
            ['SIZE /nosize', /stat\(\/nosize\) gave size undefined/],
            ['MLST /nosize', /stat\(\/nosize\) gave size undefined/],
            ['SIZE /negsize', /stat\(\/negsize\) gave size -5/],
            ['RETR /negsize', /stat\(\/negsize\) gave size -5/],
          ] as const) {
            const from = server().logs.length;
            const r = await ftp.cmd(command);
            assert.equal(r.code, 451, `${command}: ${r.code} ${textOf(r)}`);
            const line = await waitForLog(server(), (l) => l.msg === 'command failed', from);
            assert.match(errorOf(line), fault);
          }
          assert.equal((await ftp.cmd('SIZE /a.txt')).code, 213);
          // A listed entry without a size fails the listing, not a line reading "undefined": the
          // first batch is read before the 150, so the failure is the command's reply.
          const from = server().logs.length;
          const port = await ftp.epsv();
          const conn = await ftp.openData(port, { tls: true });
          const r = await ftp.cmd('MLSD /sizeless');
          assert.equal(r.code, 451, textOf(r));
          assert.equal((await ftp.readAll(conn)).length, 0, 'no listing sent');
          const line = await waitForLog(server(), (l) => l.msg === 'command failed', from);
          assert.match(errorOf(line), /list\(\/sizeless\) gave size undefined/);
        });
      });

      test('a read stream giving objects: 451 for that RETR (logged naming storageFor), not the process', async () => {
        await withClients(async (track) => {
          const ftp = await loginAs(server(), mode, 'alice', track);
          for (const type of ['I', 'A']) {
            await ftp.cmd(`TYPE ${type}`, 200);
            const from = server().logs.length;
            const conn = await ftp.openData(await ftp.epsv(), { tls: true });
            await ftp.cmd('RETR /rows', 150);
            await ftp.readAll(conn);
            const r = await ftp.expect();
            assert.equal(
              `${r.code} ${textOf(r)}`,
              '451 Transfer aborted: the server could not read the file.',
            );
            const line = await waitForLog(server(), (l) => l.msg.startsWith('transfer failed'), from);
            assert.match(
              errorOf(line),
              /options\.storageFor: its storage's openRead\(\/rows\) stream gave an object/,
            );
            // Strings and Buffers from a stream in object mode are bytes: sent as they are.
            const bytes = await ftp.openData(await ftp.epsv(), { tls: true });
            await ftp.cmd('RETR /texts', 150);
            assert.equal((await ftp.readAll(bytes)).toString(), 'abc');
            await ftp.expect(226);
          }
        });
      });

      test('openRead giving no stream: 451 before any 150, logged naming storageFor', async () => {
        await withClients(async (track) => {
          const ftp = await loginAs(server(), mode, 'alice', track);
          const from = server().logs.length;
          await ftp.epsv();
          await ftp.cmd('RETR /bytes', 451);
          const line = await waitForLog(server(), (l) => l.msg === 'command failed', from);
          assert.match(
            errorOf(line),
            /options\.storageFor: its storage's openRead\(\/bytes\) gave an object, not a Readable stream/,
          );
        });
      });

      test('a write that resolves without a byte count: the upload stands (226), the log says so', async () => {
        await withClients(async (track) => {
          const ftp = await loginAs(server(), mode, 'alice', track);
          const from = server().logs.length;
          const [, done] = await ftp.store('/wbytes', Buffer.from('abc'));
          assert.equal(done.code, 226, textOf(done));
          await waitForLog(server(), (l) => /write\(\) resolved bytes "lots"/.test(l.msg), from);
        });
      });
    },
  );
}
