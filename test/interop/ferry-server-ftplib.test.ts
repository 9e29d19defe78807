/**
 * Real Python 3 ftplib (Debian's /usr/bin/python3, OpenSSL) against Ferry's server: FTP_TLS in
 * explicit mode and, through a small subclass, implicit mode (test/support/ftplib_client.py). Data
 * connections resume the control connection's TLS session, which Ferry requires by default.
 * Login, LIST/NLST/MLSD, a 20 MB random upload and download with equal checksums, SIZE, REST
 * download from an offset, rename, delete, MKD/RMD, and repeated uploads in one session.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  expectFtplibOk,
  ftplib,
  type FtplibAction,
  type FtplibResult,
  type FtplibRun,
} from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import {
  BIG_SIZE,
  MB,
  MODES,
  STRESS_SIZE,
  failedUploadContext,
  makeStressFiles,
  problemLogs,
  sha256,
  sha256File,
  targetsOf,
  tempDir,
  writeRandomFile,
} from './ferry-server-helpers.js';

const REST_OFFSET = 7 * MB + 12_345;

/** The results of one op, in order. */
function resultsOf(run: FtplibRun, op: FtplibAction['op']): FtplibResult[] {
  return run.results.filter((r) => r.op === op);
}

function only(run: FtplibRun, op: FtplibAction['op']): FtplibResult {
  const rs = resultsOf(run, op);
  assert.equal(rs.length, 1, `expected one ${op} result, got ${rs.length}`);
  return rs[0] as FtplibResult;
}

/** Every data connection of the run resumed the control connection's TLS session. */
function assertAllReused(run: FtplibRun): void {
  const data = run.results.filter((r) => r.sessionReused !== undefined);
  assert.ok(data.length > 0, 'no data connections');
  for (const r of data) assert.equal(r.sessionReused, true, `${r.op}: TLS session not resumed`);
}

describe('Python ftplib against the Ferry server', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let big = '';
  let bigSha = '';

  before(async () => {
    ts = await startFerry();
    work = await tempDir('ferry-ftplib-');
    big = path.join(work.dir, 'big.bin');
    bigSha = await writeRandomFile(big, BIG_SIZE);
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  describe('modes', { concurrency: true }, () => {
    for (const mode of MODES) {
      describe(`ftplib ${mode}`, { concurrency: 1 }, () => {
        const remoteDir = `/py-${mode}`;
        const hostDir = () => path.join(ts.root, `py-${mode}`);
        const local = (name: string) => path.join(work.dir, `${mode}-${name}`);
        const run = async (actions: readonly FtplibAction[], what: string) =>
          expectFtplibOk(
            await ftplib(targetsOf(ts)[mode], [{ op: 'login' }, { op: 'cwd', path: remoteDir }, ...actions]),
            `ftplib ${mode} ${what}`,
          );

        before(async () => {
          await mkdir(hostDir());
        });

        it('logs in and uploads, sizes and downloads a 20 MB random file with equal SHA-256', async () => {
          const r = await run(
            [
              { op: 'pwd' },
              { op: 'upload', local: big, remote: 'big.bin' },
              { op: 'size', path: 'big.bin' },
              { op: 'download', remote: 'big.bin', local: local('big.down') },
              { op: 'quit' },
            ],
            '20 MB',
          );
          assert.match(r.welcome ?? '', /^220 /);
          assert.equal(only(r, 'login').code, '230');
          assert.deepEqual(only(r, 'pwd').lines, [remoteDir]);
          const up = only(r, 'upload');
          assert.equal(up.code, '226');
          assert.equal(up.bytes, BIG_SIZE);
          assert.equal(up.sha256, bigSha);
          assert.equal(await sha256File(path.join(hostDir(), 'big.bin')), bigSha);
          assert.equal(only(r, 'size').size, BIG_SIZE);
          const down = only(r, 'download');
          assert.equal(down.code, '226');
          assert.equal(down.sha256, bigSha);
          assert.equal(await sha256File(local('big.down')), bigSha);
          assert.equal(only(r, 'quit').code, '221');
          assertAllReused(r);
        });

        it('REST + RETR downloads from an offset', async () => {
          const content = await readFile(big);
          const r = await run(
            [{ op: 'download', remote: 'big.bin', local: local('rest.part'), offset: REST_OFFSET }],
            'REST download',
          );
          const tailPart = content.subarray(REST_OFFSET);
          const down = only(r, 'download');
          assert.equal(down.code, '226');
          assert.equal(down.bytes, BIG_SIZE - REST_OFFSET);
          assert.equal(down.sha256, sha256(tailPart));
          assert.equal(sha256(await readFile(local('rest.part'))), sha256(tailPart));
          assertAllReused(r);
        });

        it('lists with LIST, NLST and MLSD', async () => {
          await mkdir(path.join(hostDir(), 'a dir'));
          await writeFile(path.join(hostDir(), 'ünï cödé.txt'), 'utf-8\n');
          const r = await run([{ op: 'list' }, { op: 'nlst' }, { op: 'mlsd' }], 'listings');
          const list = only(r, 'list');
          assert.equal(list.code, '226');
          const lines = list.lines ?? [];
          assert.ok(
            lines.some((l) => l.startsWith('-') && l.includes(` ${BIG_SIZE} `) && l.endsWith(' big.bin')),
            lines.join('\n'),
          );
          assert.ok(
            lines.some((l) => l.startsWith('d') && l.endsWith(' a dir')),
            lines.join('\n'),
          );
          assert.ok(
            lines.some((l) => l.endsWith(' ünï cödé.txt')),
            lines.join('\n'),
          );

          const names = [...(only(r, 'nlst').lines ?? [])].sort();
          assert.deepEqual(names, ['a dir', 'big.bin', 'ünï cödé.txt']);

          const facts = new Map(only(r, 'mlsd').entries ?? []);
          assert.equal(facts.get('big.bin')?.type, 'file');
          assert.equal(facts.get('big.bin')?.size, String(BIG_SIZE));
          assert.equal(facts.get('a dir')?.type, 'dir');
          assert.equal(facts.get('ünï cödé.txt')?.size, '6');
          assertAllReused(r);
        });

        it('renames, deletes, makes and removes directories', async () => {
          await writeFile(path.join(hostDir(), 'from.txt'), 'renamed\n');
          await writeFile(path.join(hostDir(), 'delete me.txt'), 'x');
          const r = await run(
            [
              { op: 'rename', from: 'from.txt', to: 'to dir.txt' },
              { op: 'delete', path: 'delete me.txt' },
              { op: 'mkd', path: 'made' },
              { op: 'mkd', path: 'made/inner' },
              { op: 'rmd', path: 'made/inner' },
            ],
            'file operations',
          );
          assert.equal(only(r, 'rename').code, '250');
          assert.equal(only(r, 'delete').code, '250');
          assert.deepEqual(
            resultsOf(r, 'mkd').map((m) => m.lines?.[0]),
            [`${remoteDir}/made`, `${remoteDir}/made/inner`],
          );
          assert.equal(only(r, 'rmd').code, '250');
          assert.equal(await readFile(path.join(hostDir(), 'to dir.txt'), 'utf8'), 'renamed\n');
          assert.ok(!existsSync(path.join(hostDir(), 'from.txt')));
          assert.ok(!existsSync(path.join(hostDir(), 'delete me.txt')));
          assert.ok((await stat(path.join(hostDir(), 'made'))).isDirectory());
          assert.ok(!existsSync(path.join(hostDir(), 'made', 'inner')));

          // Refusals reach the client as 5xx replies.
          const refused = await ftplib(
            targetsOf(ts)[mode],
            [
              { op: 'login' },
              { op: 'cwd', path: remoteDir },
              { op: 'rmd', path: 'no such dir' },
              { op: 'delete', path: 'no such file' },
              { op: 'size', path: 'made' },
            ],
            { continueOnError: true },
          );
          assert.deepEqual(
            refused.results.map((x) => [x.op, x.ok, x.code?.[0]]),
            [
              ['login', true, '2'],
              ['cwd', true, '2'],
              ['rmd', false, '5'],
              ['delete', false, '5'],
              ['size', false, '5'],
            ],
          );
        });

        it('with an ssl context that requires close_notify (python.org builds): uploads and downloads in a row, each 226', async () => {
          const small = local('strict.bin');
          const sha = await writeRandomFile(small, 300_000);
          const transfers = [1, 2, 3].flatMap((i): FtplibAction[] => [
            { op: 'upload', local: small, remote: `strict-${i}.bin` },
            { op: 'download', remote: `strict-${i}.bin`, local: local(`strict-${i}.down`) },
          ]);
          const r = expectFtplibOk(
            await ftplib(
              targetsOf(ts)[mode],
              [{ op: 'login' }, { op: 'cwd', path: remoteDir }, ...transfers, { op: 'quit' }],
              { strictEof: true },
            ),
            `ftplib ${mode} strict EOF`,
          );
          for (const t of [...resultsOf(r, 'upload'), ...resultsOf(r, 'download')]) {
            assert.equal(t.code, '226', JSON.stringify(t));
            assert.equal(t.sha256, sha);
          }
          assert.equal(only(r, 'quit').code, '221', 'replies stayed in step');
          assertAllReused(r);
        });

        it('offering each TLS session once, the newest first (OpenSSL clients, curl): every transfer resumes', async () => {
          const small = local('newest.bin');
          const sha = await writeRandomFile(small, 100_000);
          const r = expectFtplibOk(
            await ftplib(
              targetsOf(ts)[mode],
              [
                { op: 'login' },
                { op: 'cwd', path: remoteDir },
                { op: 'upload', local: small, remote: 'newest.bin' },
                ...[1, 2, 3, 4].map((i): FtplibAction => ({
                  op: 'download',
                  remote: 'newest.bin',
                  local: local(`newest-${i}`),
                })),
                { op: 'upload', local: small, remote: 'newest-2.bin' },
                { op: 'nlst' },
              ],
              { dataSession: 'newest-once', strictEof: true },
            ),
            `ftplib ${mode} newest session`,
          );
          for (const d of resultsOf(r, 'download')) assert.equal(d.sha256, sha);
          assertAllReused(r);
        });

        /**
         * Uploads 5 × 2 MB in one session (`closeWithoutReading`: as lftp does); each must be
         * byte-identical on disk, answered 226 and resumed the control session.
         */
        const stressUploads = async (tag: string, closeWithoutReading: boolean): Promise<void> => {
          const files = await makeStressFiles(work.dir, `${mode}-${tag}`);
          const r = await ftplib(
            targetsOf(ts)[mode],
            [
              { op: 'login' },
              { op: 'cwd', path: remoteDir },
              ...files.map((f): FtplibAction => ({
                op: 'upload',
                local: path.join(work.dir, f.name),
                remote: f.name,
                closeWithoutReading,
              })),
            ],
            { continueOnError: true, ...(closeWithoutReading ? { tlsMax: '1.3' as const } : {}) },
          );
          const uploads = resultsOf(r, 'upload');
          const failures: string[] = [];
          for (const [i, f] of files.entries()) {
            const u = uploads[i];
            const onDisk = path.join(hostDir(), f.name);
            const size = existsSync(onDisk) ? (await stat(onDisk)).size : -1;
            const same = size === STRESS_SIZE && (await sha256File(onDisk)) === f.sha;
            if (!same || u?.code !== '226' || u.sessionReused !== true)
              failures.push(`${f.name}: ${JSON.stringify(u)}, ${size} bytes, same: ${same}`);
          }
          assert.deepEqual(failures, [], `${r.error ?? ''}\n${failedUploadContext(ts)}\n${r.stderr}`);
        };

        it('uploads by a client that never reads its data connection (as lftp) arrive whole, each 226', async () => {
          // A TLS 1.3 ticket sent during the upload would stay unread; closing then resets the
          // connection and the client's kernel drops what it has not sent yet.
          await stressUploads('noread', true);
        });

        it('repeated uploads (5 × 2 MB, one session) are byte-identical and each gets 226', async () => {
          await stressUploads('stress', false);
        });
      });
    }
  });

  it('Ferry logged no warnings or errors for any of these sessions', () => {
    assert.equal(problemLogs(ts), '');
  });
});
