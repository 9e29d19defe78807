// Test fixtures on disk: the temporary tree, a self-signed certificate, big files, page cache.
import { chmod, chown, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { DIST_INDEX, ROOT } from './paths.mjs';
import { prepareDist } from './preflight.mjs';
import { loadAverage } from './report.mjs';
import { check, runProcess } from './run-process.mjs';
import { loadPeers, vsftpdOwner } from './vsftpd.mjs';

const MiB = 1024 * 1024;

export async function syncAll() {
  await runProcess('/usr/bin/sync', [], { timeoutMs: 300_000 });
}

/**
 * A temporary directory with root/ (served; owned by vsftpd's user, which writes the uploads),
 * client/ and tls/; removed at cleanup unless keepTemp (vsftpd's configuration lives in the
 * directory startVsftpd makes, removed when it stops).
 */
export async function makeWorkDirs(prefix, { keepTemp, cleanups, log }) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), prefix));
  if (!keepTemp) cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  else log(`temporary directory kept: ${tmp}`);
  await chmod(tmp, 0o755); // vsftpd's session processes (user ferrytest) must reach root/
  const owner = vsftpdOwner();
  const dirs = {
    tmp,
    root: path.join(tmp, 'root'),
    client: path.join(tmp, 'client'),
  };
  await mkdir(dirs.root, { mode: 0o755 });
  await chown(dirs.root, owner.uid, owner.gid);
  await mkdir(dirs.client);
  return dirs;
}

/** The common start of a run: load average before, dist/ (re)built, work dirs, certificate. */
export async function prepareRun(prefix, { opts, cleanups, log }) {
  const loadBefore = loadAverage();
  const { buildNote, distHash } = await prepareDist(ROOT, DIST_INDEX, opts.build, log);
  const dirs = await makeWorkDirs(prefix, { keepTemp: opts.keepTemp, cleanups, log });
  const cert = await makeCertificate(path.join(dirs.tmp, 'tls'));
  return { loadBefore, buildNote, distHash, dirs, cert };
}

/** RSA 2048 certificate for localhost and 127.0.0.1 (test/support's makeTestCertificate), written to dir. */
export async function makeCertificate(dir) {
  const { makeTestCertificate } = await loadPeers();
  return makeTestCertificate(dir);
}

export async function writeBigFile(file, bytes) {
  const block = randomBytes(4 * MiB);
  const fh = await open(file, 'w', 0o644);
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(block.length, bytes - done);
      block.writeUInt32LE(done / MiB, 0); // no two blocks identical
      await fh.write(block, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/** Reads file once so the servers serve it from the page cache. */
export async function warmCache(file) {
  check(
    await runProcess('/bin/dd', [`if=${file}`, 'of=/dev/null', 'bs=4M'], { timeoutMs: 300_000 }),
    'dd (cache warm-up)',
  );
}
