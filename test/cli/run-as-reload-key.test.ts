/**
 * `--run-as` with a key only root may read (certbot's mode 0600): a SIGHUP, run by the service user,
 * cannot read it again. The reload must still apply the rest (a removed user is refused), keep
 * serving the certificate it has, and say so; it failed whole, the removed user still logging in.
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fingerprintOf } from '../../src/tls/certificates.js';
import { systemAccount } from '../support/accounts.js';
import { ServeProcess, type LogLine } from '../support/ferry-process.js';
import { testCertificate } from '../support/ferry.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

const USER = 'ferry-test';
const isRoot = process.getuid?.() === 0;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-run-as-reload-'));
  await chmod(dir, 0o755); // the run-as user must reach what it serves
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function usersYaml(names: readonly string[], home: string): Promise<string> {
  const entries = await Promise.all(
    names.map(
      async (n) => `  - name: ${n}\n    passwordHash: ${await testHash(`${n}-pw`)}\n    home: ${home}\n`,
    ),
  );
  return `users:\n${entries.join('')}`;
}

/** The reply to PASS: 230 logged in, 530 refused. */
async function passReply(r: ServeProcess, user: string): Promise<string> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.cmd(`USER ${user}`, 331);
    const reply = await ftp.cmd(`PASS ${user}-pw`);
    return `${reply.code} ${textOf(reply)}`;
  } finally {
    await ftp.close();
  }
}

for (const workers of [1, 2]) {
  test(
    `--run-as, key readable by root only (--workers ${workers}): SIGHUP keeps the certificate, says so, and applies the rest`,
    { skip: !isRoot },
    async () => {
      const user = (await systemAccount(USER)) ?? assert.fail(`no system account ${USER}`);
      const base = await mkdtemp(path.join(dir, `w${workers}-`));
      await chmod(base, 0o755);
      const [root, etc, data] = ['root', 'etc', 'data'].map((d) => path.join(base, d)) as [
        string,
        string,
        string,
      ];
      for (const d of [root, etc, data]) await mkdir(d, { mode: 0o755 });
      for (const d of [root, data]) await chown(d, user.uid, user.gid);
      const pair = await testCertificate();
      const [config, cert, key] = ['ferry.yaml', 'cert.pem', 'key.pem'].map((f) => path.join(etc, f)) as [
        string,
        string,
        string,
      ];
      await writeFile(cert, pair.cert, { mode: 0o644 });
      await writeFile(key, pair.key, { mode: 0o600 }); // root's, as certbot leaves it
      const settings = `root: ${root}\ndataDir: ${data}\ncertificates: [{ cert: ${cert}, key: ${key} }]\n`;
      await writeFile(config, settings + (await usersYaml(['alice', 'bob'], root)), { mode: 0o644 });
      const r = await ServeProcess.start(
        ['--config', config, '--run-as', USER, '--workers', String(workers)],
        base,
      );
      try {
        assert.match(await passReply(r, 'bob'), /^230 /);
        await writeFile(config, settings + (await usersYaml(['alice'], root)));
        const from = r.log.length;
        const primary = (msg: RegExp) => (l: LogLine) =>
          r.log.indexOf(l) >= from && l.worker === undefined && msg.test(l.msg ?? '');
        r.child.kill('SIGHUP');
        const outcome = await r.waitForLog(primary(/^configuration reload/), 'the reload’s outcome');
        assert.equal(outcome.msg, 'configuration reloaded', JSON.stringify(outcome));
        const kept = r.log.find(primary(/^certificates kept/)) ?? assert.fail(r.lines.slice(-20).join('\n'));
        assert.equal(kept.level, 40);
        assert.deepEqual(kept.fingerprints, [fingerprintOf(pair.cert)]);
        assert.deepEqual(kept.unreadable, [`TLS key ${key}: cannot read it (EACCES).`]);
        assert.match(await passReply(r, 'bob'), /^530 /);
        assert.match(await passReply(r, 'alice'), /^230 /); // served with the certificate kept
      } finally {
        assert.equal(await r.stop(), 0);
      }
    },
  );
}
