/**
 * Real curl (Debian's 7.88) against Ferry's server: implicit (`ftps://`) and explicit
 * (`--ssl-reqd ftp://`). Login, LIST/NLST, a 20 MB random upload and download with equal
 * checksums, resumed download and upload (`-C -`), rename/delete/mkdir/rmdir through `-Q` and
 * `--ftp-create-dirs`, repeated uploads that must each be byte-identical and get 226, CCC, and
 * the AUTH SSL that curl sends before AUTH TLS.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { curl, curlDownload, curlList, curlUpload, expectSuccess, ftpUrl } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import {
  BIG_SIZE,
  MB,
  MODES,
  STRESS_SIZE,
  curlCommands,
  curlFinalReplyTo,
  curlReplyTo,
  failedUploadContext,
  makeStressFiles,
  problemLogs,
  sha256,
  sha256File,
  targetsOf,
  tempDir,
  writeRandomFile,
} from './ferry-server-helpers.js';

const RESUME_SIZE = 3 * MB;

describe('curl against the Ferry server', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let big = '';
  let bigSha = '';
  let medium = '';
  let mediumSha = '';

  before(async () => {
    ts = await startFerry();
    work = await tempDir('ferry-curl-');
    big = path.join(work.dir, 'big.bin');
    medium = path.join(work.dir, 'medium.bin');
    [bigSha, mediumSha] = await Promise.all([
      writeRandomFile(big, BIG_SIZE),
      writeRandomFile(medium, RESUME_SIZE),
    ]);
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  // The two modes use separate remote and local directories: they run side by side.
  describe('modes', { concurrency: true }, () => {
    for (const mode of MODES) {
      describe(`curl ${mode}`, { concurrency: 1 }, () => {
        const target = () => targetsOf(ts)[mode];
        const remoteDir = `/curl-${mode}`;
        const hostDir = () => path.join(ts.root, `curl-${mode}`);
        const local = (name: string) => path.join(work.dir, `${mode}-${name}`);

        before(async () => {
          await mkdir(hostDir());
        });

        it('uploads a 20 MB random file: equal SHA-256 on disk, 226', async () => {
          const r = expectSuccess(
            await curlUpload(target(), big, `${remoteDir}/big.bin`, ['-v']),
            'curl upload',
          );
          assert.equal(curlReplyTo(r.stderr, /^STOR /)?.slice(2, 5), '150');
          assert.equal(curlFinalReplyTo(r.stderr, /^STOR /), '226');
          assert.equal((await stat(path.join(hostDir(), 'big.bin'))).size, BIG_SIZE);
          assert.equal(await sha256File(path.join(hostDir(), 'big.bin')), bigSha);
        });

        it('downloads the 20 MB file: equal SHA-256', async () => {
          const out = local('big.down');
          expectSuccess(await curlDownload(target(), `${remoteDir}/big.bin`, out), 'curl download');
          assert.equal(await sha256File(out), bigSha);
        });

        it('lists the directory with LIST and with NLST (-l)', async () => {
          await writeFile(path.join(hostDir(), 'listed file.txt'), 'x');
          const list = expectSuccess(await curlList(target(), remoteDir), 'curl LIST');
          const lines = list.stdout.split(/\r?\n/).filter((l) => l.length > 0);
          const bigLine = lines.find((l) => l.endsWith(' big.bin'));
          assert.ok(bigLine, `LIST lacks big.bin:\n${list.stdout}`);
          assert.match(bigLine, /^-/);
          assert.ok(bigLine.includes(` ${BIG_SIZE} `), `LIST line lacks the size: ${bigLine}`);
          assert.ok(lines.some((l) => l.endsWith(' listed file.txt')));

          const nlst = expectSuccess(await curlList(target(), remoteDir, ['-l', '-v']), 'curl NLST');
          assert.ok(curlCommands(nlst.stderr).includes('NLST'), 'curl -l did not send NLST');
          const names = nlst.stdout.split(/\r?\n/).filter((l) => l.length > 0);
          assert.deepEqual([...names].sort(), ['big.bin', 'listed file.txt']);
        });

        it('with TLS 1.2 (session-ID resumption), several transfers on one connection all resume', async () => {
          const names = ['a', 'b', 'c'];
          await Promise.all(
            names.map((n) => writeFile(path.join(hostDir(), `tls12-${n}.txt`), `file ${n}\n`)),
          );
          const args = ['--tls-max', '1.2', '-w', '%{num_connects}\n'];
          for (const n of names) args.push(ftpUrl(target(), `${remoteDir}/tls12-${n}.txt`));
          const r = expectSuccess(await curl(target(), args), 'curl --tls-max 1.2, three RETRs');
          assert.equal(r.stdout.replace(/\d+\n/g, ''), 'file a\nfile b\nfile c\n');
          // One control connection for all three: only data connections were added.
          assert.deepEqual(r.stdout.match(/^\d+$/gm)?.slice(1), ['1', '1']);
        });

        it('with TLS 1.3, several downloads in one command: every data connection resumes, every file arrives', async () => {
          const names = ['a', 'b', 'c', 'd', 'e'];
          await Promise.all(
            names.map((n) => writeFile(path.join(hostDir(), `tls13-${n}.txt`), `file ${n}\n`)),
          );
          const args = ['--tlsv1.3', '-v', '-w', '%{num_connects}\n'];
          for (const n of names)
            args.push('-o', local(`tls13-${n}.down`), ftpUrl(target(), `${remoteDir}/tls13-${n}.txt`));
          const r = expectSuccess(await curl(target(), args), 'curl TLS 1.3, five RETRs');
          assert.match(r.stderr, /SSL connection using TLSv1\.3/);
          assert.doesNotMatch(r.stderr, /^< 522/m);
          for (const n of names)
            assert.equal(await readFile(local(`tls13-${n}.down`), 'utf8'), `file ${n}\n`);
          // One control connection for all of them: only data connections were added.
          assert.deepEqual(r.stdout.match(/^\d+$/gm)?.slice(1), ['1', '1', '1', '1']);
        });

        it('with TLS 1.3, several uploads in one command: every data connection resumes, every file arrives', async () => {
          const names = ['a', 'b', 'c', 'd', 'e'];
          await Promise.all(names.map((n) => writeFile(local(`tls13-up-${n}.txt`), `upload ${n}\n`)));
          const args = ['--tlsv1.3', '-v'];
          for (const n of names)
            args.push('-T', local(`tls13-up-${n}.txt`), ftpUrl(target(), `${remoteDir}/tls13-up-${n}.txt`));
          const r = expectSuccess(await curl(target(), args), 'curl TLS 1.3, five STORs');
          assert.doesNotMatch(r.stderr, /^< 522/m);
          assert.equal(r.stderr.match(/^< 226 /gm)?.length, names.length, 'each STOR got 226');
          for (const n of names)
            assert.equal(await readFile(path.join(hostDir(), `tls13-up-${n}.txt`), 'utf8'), `upload ${n}\n`);
        });

        it('resumes a download (-C -) after a partial local file', async () => {
          const content = await readFile(medium);
          const remote = `${remoteDir}/resume-down.bin`;
          await writeFile(path.join(ts.root, remote), content);
          const out = local('resume-down.bin');
          const have = 1_234_567;
          await writeFile(out, content.subarray(0, have));
          const r = expectSuccess(
            await curlDownload(target(), remote, out, ['-C', '-', '-v']),
            'curl resumed download',
          );
          assert.ok(curlCommands(r.stderr).includes(`REST ${have}`), 'curl sent no REST');
          assert.equal(curlReplyTo(r.stderr, /^REST /)?.slice(2, 5), '350');
          assert.equal(sha256(await readFile(out)), mediumSha);
        });

        it('resumes an upload (-C - -T) onto a partial remote file', async () => {
          const content = await readFile(medium);
          const onDisk = path.join(hostDir(), 'resume-up.bin');
          const have = 1_000_000;
          await writeFile(onDisk, content.subarray(0, have));
          const r = expectSuccess(
            await curlUpload(target(), medium, `${remoteDir}/resume-up.bin`, ['-C', '-', '-v']),
            'curl resumed upload',
          );
          const sent = curlCommands(r.stderr);
          assert.ok(sent.includes('SIZE resume-up.bin'), `curl did not ask SIZE: ${sent.join(' | ')}`);
          assert.ok(sent.includes('APPE resume-up.bin'), `curl did not APPE: ${sent.join(' | ')}`);
          assert.equal(curlFinalReplyTo(r.stderr, /^APPE /), '226');
          assert.equal(sha256(await readFile(onDisk)), mediumSha);
        });

        it('renames (RNFR/RNTO), deletes (DELE), creates and removes directories', async () => {
          const t = target();
          await writeFile(path.join(hostDir(), 'before.txt'), 'rename me');
          const renamed = expectSuccess(
            await curlList(t, remoteDir, [
              '-Q',
              `RNFR ${remoteDir}/before.txt`,
              '-Q',
              `RNTO ${remoteDir}/after.txt`,
            ]),
            'curl rename',
          );
          assert.ok(renamed.stdout.includes(' after.txt'), renamed.stdout);
          assert.ok(!renamed.stdout.includes(' before.txt'), renamed.stdout);
          assert.equal(await readFile(path.join(hostDir(), 'after.txt'), 'utf8'), 'rename me');
          assert.ok(!existsSync(path.join(hostDir(), 'before.txt')));

          expectSuccess(await curlList(t, remoteDir, ['-Q', `DELE ${remoteDir}/after.txt`]), 'curl DELE');
          assert.ok(!existsSync(path.join(hostDir(), 'after.txt')));

          const small = local('small.txt');
          await writeFile(small, 'created with its directories\n');
          expectSuccess(
            await curlUpload(t, small, `${remoteDir}/new dir/deeper/c.txt`, ['--ftp-create-dirs']),
            'curl --ftp-create-dirs',
          );
          assert.equal(
            await readFile(path.join(hostDir(), 'new dir', 'deeper', 'c.txt'), 'utf8'),
            'created with its directories\n',
          );

          expectSuccess(await curlList(t, remoteDir, ['-Q', `MKD ${remoteDir}/made`]), 'curl MKD');
          assert.ok((await stat(path.join(hostDir(), 'made'))).isDirectory());
          expectSuccess(await curlList(t, remoteDir, ['-Q', `RMD ${remoteDir}/made`]), 'curl RMD');
          assert.ok(!existsSync(path.join(hostDir(), 'made')));

          // A failing quote command makes curl fail: the server's refusal reaches the client.
          const refused = await curlList(t, remoteDir, ['-Q', `RMD ${remoteDir}/no such dir`]);
          assert.notEqual(refused.code, 0, 'RMD of a missing directory succeeded');
        });

        // One curl run per upload: curl 7.88 cannot resume the TLS session on a second data
        // connection of a reused control connection under TLS 1.3 (curl/curl#4654).
        it('repeated uploads (5 × 2 MB, one curl each) are byte-identical and each gets 226', async () => {
          const files = await makeStressFiles(work.dir, `${mode}-stress`);
          const failures: string[] = [];
          for (const f of files) {
            const r = await curlUpload(target(), path.join(work.dir, f.name), `${remoteDir}/${f.name}`, [
              '-v',
            ]);
            const onDisk = path.join(hostDir(), f.name);
            const size = existsSync(onDisk) ? (await stat(onDisk)).size : -1;
            const same = size === STRESS_SIZE && (await sha256File(onDisk)) === f.sha;
            const final = curlFinalReplyTo(r.stderr, /^STOR /);
            if (!same || r.code !== 0 || final !== '226')
              failures.push(
                `${f.name}: curl exit ${r.code}, STOR got ${final}, ${size} bytes on disk, ` +
                  `identical: ${same}\n${r.stderr.slice(-1500)}`,
              );
          }
          assert.deepEqual(failures, [], `uploads failed\n${failedUploadContext(ts)}`);
        });
      });
    }
  });

  it('explicit: curl sends AUTH SSL first and Ferry answers 234', async () => {
    const r = expectSuccess(await curlList(targetsOf(ts).explicit, '/', ['-v']), 'curl explicit LIST');
    const sent = curlCommands(r.stderr);
    assert.equal(sent[0], 'AUTH SSL');
    assert.equal(curlReplyTo(r.stderr, /^AUTH SSL$/)?.slice(0, 7), '< 234 A');
    assert.ok(!sent.includes('AUTH TLS'), 'curl fell back to AUTH TLS');
    assert.match(r.stderr, /SSL connection using TLSv1\.[23]/);
  });

  it('implicit: the session starts with TLS, no AUTH, and PBSZ/PROT are accepted', async () => {
    const r = expectSuccess(await curlList(targetsOf(ts).implicit, '/', ['-v']), 'curl implicit LIST');
    const sent = curlCommands(r.stderr);
    assert.ok(!sent.some((c) => c.startsWith('AUTH')), sent.join(' | '));
    assert.equal(curlReplyTo(r.stderr, /^PROT P$/)?.slice(2, 5), '200');
  });

  it('Ferry logged no warnings or errors for any of these sessions', () => {
    assert.equal(problemLogs(ts), '');
  });
});

/**
 * CCC (clear command channel) after login, in curl's two modes, against a server that requires
 * session reuse (the default). Passive (curl's default) never answers the server's close_notify, so
 * OpenSSL marks the control session not resumable and the data connections make full handshakes,
 * which the server accepts after CCC. Each run sends PBSZ and PROT again after CCC (`-Q`), as z/OS
 * clients do.
 */
describe('curl --ftp-ssl-ccc against a server with allowCcc', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let sha = '';

  before(async () => {
    work = await tempDir('ferry-curl-ccc-');
    ts = await startFerry({ allowCcc: true });
    await writeFile(path.join(work.dir, 'ccc.txt'), 'after CCC\n');
    sha = await writeRandomFile(path.join(ts.root, 'ccc-big.bin'), RESUME_SIZE);
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  for (const ccc of ['active', 'passive'] as const) {
    const args = [
      '-v',
      '--ftp-ssl-ccc',
      '--ftp-ssl-ccc-mode',
      ccc,
      '-Q',
      'PBSZ 0',
      '-Q',
      'PROT P',
      '--max-time',
      '20',
    ];

    it(`CCC ${ccc} mode: 200, PBSZ/PROT again 200, then upload, download and listing work`, async () => {
      const t = targetsOf(ts).explicit;
      const r = expectSuccess(
        await curlUpload(t, path.join(work.dir, 'ccc.txt'), `/ccc-${ccc}.txt`, args),
        `curl CCC ${ccc}`,
      );
      assert.equal(curlReplyTo(r.stderr, /^CCC$/)?.slice(2, 5), '200');
      const sent = curlCommands(r.stderr);
      assert.ok(sent.indexOf('CCC') < sent.findIndex((s) => s.startsWith('STOR ')));
      const afterCcc = r.stderr.slice(r.stderr.indexOf('> CCC'));
      assert.equal(curlReplyTo(afterCcc, /^PBSZ 0$/)?.slice(2, 5), '200');
      assert.equal(curlReplyTo(afterCcc, /^PROT P$/)?.slice(2, 5), '200');
      assert.equal(curlFinalReplyTo(r.stderr, /^STOR /), '226');
      assert.equal(await readFile(path.join(ts.root, `ccc-${ccc}.txt`), 'utf8'), 'after CCC\n');
      const local = path.join(work.dir, `ccc-${ccc}-big.bin`);
      expectSuccess(await curlDownload(t, '/ccc-big.bin', local, args), `curl CCC ${ccc} RETR`);
      assert.equal(await sha256File(local), sha);
      const list = expectSuccess(await curlList(t, '/', args), `curl CCC ${ccc} LIST`);
      assert.ok(list.stdout.includes(` ccc-${ccc}.txt`), list.stdout);
    });
  }
});
