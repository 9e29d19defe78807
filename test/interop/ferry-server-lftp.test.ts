/**
 * Real lftp (Debian's 4.9, GnuTLS) against Ferry's server: implicit (`ftps://`) and explicit
 * (`ftp:ssl-force`). put/get of a 20 MB random file with equal checksums, `mirror -R` of a tree
 * with nested and empty directories, spaces and UTF-8 names up and `mirror` back down, mv, rm,
 * mkdir, rmdir, cls and ls, and repeated uploads that must each be byte-identical and get 226.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { expectSuccess, lftp, lftpQuote, type ClientResult } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import {
  BIG_SIZE,
  MODES,
  STRESS_SIZE,
  assertSameTree,
  failedUploadContext,
  makeStressFiles,
  makeTree,
  problemLogs,
  sha256File,
  targetsOf,
  tempDir,
  writeRandomFile,
} from './ferry-server-helpers.js';

/** The replies Ferry logged for commands `verb <...name>` (name = last path segment). */
function repliesFor(ts: TestServer, verb: string, name: string): number[] {
  const out: number[] = [];
  for (const l of ts.logs) {
    if (l.msg !== 'command' || !('command' in l.obj) || !('reply' in l.obj)) continue;
    const { command, reply } = l.obj;
    if (typeof command !== 'string' || typeof reply !== 'number') continue;
    if (command.startsWith(`${verb} `) && (command.endsWith(`/${name}`) || command === `${verb} ${name}`))
      out.push(reply);
  }
  return out;
}

function describeRun(r: ClientResult): string {
  return `lftp exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-2000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
}

describe('lftp against the Ferry server', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let bigSha = '';
  const tree = () => path.join(work.dir, 'tree');

  before(async () => {
    ts = await startFerry();
    work = await tempDir('ferry-lftp-');
    bigSha = await writeRandomFile(path.join(work.dir, 'big.bin'), BIG_SIZE);
    await makeTree(tree());
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  describe('modes', { concurrency: true }, () => {
    for (const mode of MODES) {
      describe(`lftp ${mode}`, { concurrency: 1 }, () => {
        const target = () => targetsOf(ts)[mode];
        const remoteDir = `/lftp-${mode}`;
        const hostDir = () => path.join(ts.root, `lftp-${mode}`);
        const run = (script: readonly string[]) => lftp(target(), script, { cwd: work.dir });

        before(async () => {
          await mkdir(hostDir());
        });

        it('put of a 20 MB random file: equal SHA-256 on disk, 226', async () => {
          const r = await run([`put big.bin -o ${remoteDir}/big.bin`]);
          expectSuccess(r, 'lftp put');
          assert.deepEqual(repliesFor(ts, 'STOR', 'big.bin').slice(-1), [226]);
          assert.equal((await stat(path.join(hostDir(), 'big.bin'))).size, BIG_SIZE);
          assert.equal(await sha256File(path.join(hostDir(), 'big.bin')), bigSha);
        });

        it('get of the 20 MB file: equal SHA-256', async () => {
          const out = `${mode}-big.down`;
          expectSuccess(await run([`get ${remoteDir}/big.bin -o ${out}`]), 'lftp get');
          assert.equal(await sha256File(path.join(work.dir, out)), bigSha);
        });

        it('mirror -R uploads a tree (nested, empty dirs, spaces, UTF-8) and mirror downloads it', async () => {
          const down = `${mode}-mirror-down`;
          const r = await run([`mirror -R tree ${remoteDir}/tree`, `mirror ${remoteDir}/tree ${down}`]);
          expectSuccess(r, 'lftp mirror');
          await assertSameTree(path.join(hostDir(), 'tree'), tree(), 'mirror -R');
          await assertSameTree(path.join(work.dir, down), tree(), 'mirror down');
        });

        it('mv, rm, mkdir, rmdir, cls and ls', async () => {
          const dir = `${remoteDir}/ops`;
          await mkdir(path.join(hostDir(), 'ops'));
          await writeFile(path.join(hostDir(), 'ops', 'old name.txt'), 'moved\n');
          await writeFile(path.join(hostDir(), 'ops', 'doomed.txt'), 'x');
          const r = await run([
            `cd ${lftpQuote(dir)}`,
            `mv ${lftpQuote('old name.txt')} ${lftpQuote('new näme.txt')}`,
            'rm doomed.txt',
            `mkdir ${lftpQuote('made dir')}`,
            'mkdir gone',
            'rmdir gone',
            'echo ---cls',
            'cls -1',
            'echo ---ls',
            'ls',
            'echo ---end',
          ]);
          expectSuccess(r, 'lftp file operations');
          const ops = path.join(hostDir(), 'ops');
          assert.equal(await readFile(path.join(ops, 'new näme.txt'), 'utf8'), 'moved\n');
          assert.ok(!existsSync(path.join(ops, 'old name.txt')));
          assert.ok(!existsSync(path.join(ops, 'doomed.txt')));
          assert.ok((await stat(path.join(ops, 'made dir'))).isDirectory());
          assert.ok(!existsSync(path.join(ops, 'gone')));

          const section = (from: string, to: string) =>
            r.stdout
              .slice(r.stdout.indexOf(from) + from.length, r.stdout.indexOf(to))
              .split('\n')
              .map((l) => l.trimEnd())
              .filter((l) => l.length > 0);
          assert.deepEqual(section('---cls', '---ls').sort(), ['made dir/', 'new näme.txt'], r.stdout);
          const ls = section('---ls', '---end');
          assert.equal(ls.length, 2, r.stdout);
          assert.ok(
            ls.some((l) => /^d/.test(l) && l.endsWith(' made dir')),
            r.stdout,
          );
          assert.ok(
            ls.some((l) => /^-/.test(l) && / 6 .* new näme\.txt$/.test(l)),
            r.stdout,
          );
        });

        it('repeated puts (5 × 2 MB, one session) are byte-identical and each gets 226', async () => {
          const files = await makeStressFiles(work.dir, `${mode}-stress`);
          const r = await run(files.map((f) => `put ${f.name} -o ${remoteDir}/${f.name}`));
          const failures: string[] = [];
          for (const f of files) {
            const onDisk = path.join(hostDir(), f.name);
            const size = existsSync(onDisk) ? (await stat(onDisk)).size : -1;
            const same = size === STRESS_SIZE && (await sha256File(onDisk)) === f.sha;
            const replies = repliesFor(ts, 'STOR', f.name);
            if (!same || replies.join() !== '226')
              failures.push(
                `${f.name}: STOR replies ${replies.join() || 'none'}, ${size} bytes, same: ${same}`,
              );
          }
          assert.deepEqual(failures, [], `${describeRun(r)}\n${failedUploadContext(ts)}`);
          expectSuccess(r, 'lftp repeated puts');
        });
      });
    }
  });

  it('Ferry logged no warnings or errors for any of these sessions', () => {
    assert.equal(problemLogs(ts), '');
  });
});
