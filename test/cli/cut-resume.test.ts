// An upload replacing a file is cut: the old version stays (atomic uploads). A client resuming as
// GUI clients, lftp and curl do (the old size, from a listing or SIZE, then REST n + STOR or APPE of
// the new file's rest) must be refused, not given the old start spliced to the new end; SIZE gives
// the uploader no size of that version. With --workers 2 the
// resume comes from a session on the other worker, which must know of the cut too.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

async function session(r: ServeProcess): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login('gui', 'pw');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

const text = (r: { lines: readonly string[] }): string => r.lines.join('\n');

for (const n of [1, 2]) {
  test(
    `ferry serve --workers ${n}: a resume onto the file a cut upload left is refused; a whole upload then stores the new file`,
    { timeout: 120_000 },
    async (t) => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-cut-'));
      t.after(() => rm(root, { recursive: true, force: true }));
      const file = path.join(root, 'doc.bin');
      const [oldVersion, newVersion] = [randomBytes(300_000), randomBytes(500_000)];
      const r = await ServeProcess.start(['--workers', String(n), '--user', 'gui:pw'], root);
      const sessions: RawFtp[] = [];
      try {
        // The cutting session stays open: the next login goes to the other worker (the least busy).
        const cutter = await session(r);
        sessions.push(cutter);
        assert.equal((await cutter.store('doc.bin', oldVersion))[1].code, 226);
        const conn = await cutter.openData(await cutter.epsv(), { tls: true });
        await cutter.cmd('STOR doc.bin', 150);
        await cutter.uploadTruncated(conn, newVersion.subarray(0, 200_000));
        const cut = await cutter.expect();
        assert.ok(cut.code === 426 || cut.code === 451, `cut upload: ${cut.code} ${text(cut)}`);
        assert.deepEqual(await readFile(file), oldVersion, 'the old version stays');

        const resumer = await session(r);
        sessions.push(resumer);
        // No size of the old version to its uploader (a client would take it for its file's, all
        // there); one resuming from a listing's size is refused.
        await resumer.cmd('SIZE doc.bin', 504);
        await resumer.epsv();
        await resumer.cmd('REST 300000', 350);
        const rest = await resumer.cmd('STOR doc.bin');
        assert.equal(rest.code, 451, text(rest));
        assert.match(text(rest), /^Resume refused \(Append\/Restart not permitted\)/);
        await resumer.epsv();
        const appe = await resumer.cmd('APPE doc.bin');
        assert.equal(appe.code, 451, text(appe));
        assert.deepEqual(await readFile(file), oldVersion, 'nothing spliced');
        const refused = await r.waitForLog(
          (l) => l.msg === 'resume refused: the last upload was cut',
          'refusal',
        );
        if (n === 2) {
          // The other worker's log line may come later than this one's.
          const cutBy = await r.waitForLog(
            (l) => l.msg === 'transfer' && l.transfer === 'STOR' && l.reply !== 226,
            'the cut upload',
          );
          assert.notEqual(refused.pid, cutBy.pid, 'the resume came to the other worker');
        }

        // A whole upload replaces it; the file is then intact: appends and restarts work again.
        assert.equal((await resumer.store('doc.bin', newVersion))[1].code, 226);
        assert.deepEqual(await readFile(file), newVersion);
        assert.equal(text(await resumer.cmd('SIZE doc.bin', 213)), '500000');
        const tail = randomBytes(1000);
        const [, appended] = await resumer.store('doc.bin', tail, 'APPE');
        assert.equal(appended.code, 226, text(appended));
        await resumer.cmd('REST 500000', 350);
        const [, restarted] = await resumer.store('doc.bin', tail);
        assert.equal(restarted.code, 226, text(restarted));
        assert.deepEqual(await readFile(file), Buffer.concat([newVersion, tail]));

        // A cut APPE leaves the version it appended to: still the start of what the client has,
        // so the retried APPE is no splice and is taken.
        const appendConn = await resumer.openData(await resumer.epsv(), { tls: true });
        await resumer.cmd('APPE doc.bin', 150);
        await resumer.uploadTruncated(appendConn, randomBytes(50_000));
        const cutAppend = await resumer.expect();
        assert.ok(cutAppend.code === 426 || cutAppend.code === 451, `cut APPE: ${cutAppend.code}`);
        const more = randomBytes(2000);
        const [, retried] = await resumer.store('doc.bin', more, 'APPE');
        assert.equal(retried.code, 226, text(retried));
        assert.deepEqual(await readFile(file), Buffer.concat([newVersion, tail, more]));
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
        await r.stop();
      }
    },
  );
}

test(
  'ferry serve --workers 2: a resume while the replacing upload still runs is refused; once it is stored, appends work',
  { timeout: 120_000 },
  async (t) => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-cut-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const file = path.join(root, 'doc.bin');
    const [oldVersion, newVersion] = [randomBytes(300_000), randomBytes(500_000)];
    const r = await ServeProcess.start(['--workers', '2', '--user', 'gui:pw'], root);
    const sessions: RawFtp[] = [];
    try {
      const uploader = await session(r);
      sessions.push(uploader);
      assert.equal((await uploader.store('doc.bin', oldVersion))[1].code, 226);
      const conn = await uploader.openData(await uploader.epsv(), { tls: true });
      await uploader.cmd('STOR doc.bin', 150);
      // Its network dropped (the server has not noticed): the client's retry comes as a resume.
      const resumer = await session(r);
      sessions.push(resumer);
      await resumer.cmd('SIZE doc.bin', 504);
      await resumer.epsv();
      await resumer.cmd('REST 300000', 350);
      const rest = await resumer.cmd('STOR doc.bin');
      assert.equal(rest.code, 451, text(rest));
      await resumer.epsv();
      assert.equal((await resumer.cmd('APPE doc.bin')).code, 451);
      assert.deepEqual(await readFile(file), oldVersion, 'nothing spliced');
      // The first upload goes on and is stored: the new version takes appends again.
      await uploader.uploadClean(conn, newVersion);
      assert.equal((await uploader.expect()).code, 226);
      const tail = randomBytes(1000);
      const [, appended] = await resumer.store('doc.bin', tail, 'APPE');
      assert.equal(appended.code, 226, text(appended));
      assert.deepEqual(await readFile(file), Buffer.concat([newVersion, tail]));
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
      await r.stop();
    }
  },
);
