/**
 * The audit trail: each change a user makes to the tree (DELE, RNFR/RNTO, MKD, RMD, SITE CHMOD,
 * MFMT) is one line at info with who (user, session, address), the resolved path(s) and the reply,
 * failures too; before, a successful one left nothing at info, as vsftpd's log has it.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loggedIn, textOf, useFerry, withClients, type LogLine } from './harness.js';

describe('audit trail of changes to the tree', () => {
  const server = useFerry();

  test('each change is logged at info with user, session, address, path(s) and reply; a failure with its reason', async () => {
    const ts = server();
    await mkdir(path.join(ts.root, 'docs'));
    await writeFile(path.join(ts.root, 'docs', 'a.txt'), 'a');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('CWD /docs', 250);
      const from = ts.logs.length;
      await ftp.cmd('MKD sub', 257);
      await ftp.cmd('RNFR a.txt', 350);
      await ftp.cmd('RNTO sub/b.txt', 250);
      await ftp.cmd('SITE CHMOD 640 sub/b.txt', 200);
      await ftp.cmd('MFMT 20200102030405 sub/b.txt', 213);
      await ftp.cmd('DELE sub/b.txt', 250);
      await ftp.cmd('RMD sub', 250);
      const missing = await ftp.cmd('DELE gone.txt', 550);
      await ftp.cmd('MDTM /docs', 550); // a question, not a change: no line
      // Written before each reply: all there now.
      const changes = ts.logs.slice(from).filter((l: LogLine) => l.level === 'info');
      const session = (changes[0]?.obj as { session?: unknown }).session;
      assert.ok(session !== undefined, JSON.stringify(changes[0]));
      const common = { session, remote: '127.0.0.1', user: 'alice' };
      assert.deepEqual(
        changes.map((l) => ({ msg: l.msg, ...l.obj })),
        [
          { msg: 'mkdir', ...common, command: 'MKD', path: '/docs/sub', reply: 257 },
          {
            msg: 'rename',
            ...common,
            command: 'RNTO',
            from: '/docs/a.txt',
            path: '/docs/sub/b.txt',
            reply: 250,
          },
          { msg: 'chmod', ...common, command: 'SITE', path: '/docs/sub/b.txt', mode: '0640', reply: 200 },
          {
            msg: 'set-time',
            ...common,
            command: 'MFMT',
            path: '/docs/sub/b.txt',
            modified: '2020-01-02T03:04:05.000Z',
            reply: 213,
          },
          { msg: 'delete', ...common, command: 'DELE', path: '/docs/sub/b.txt', reply: 250 },
          { msg: 'rmdir', ...common, command: 'RMD', path: '/docs/sub', reply: 250 },
          {
            msg: 'delete',
            ...common,
            command: 'DELE',
            path: '/docs/gone.txt',
            reply: 550,
            reason: textOf(missing),
          },
        ],
      );
    });
  });
});
