/**
 * `ferry probe --write` against Ferry: an upload the server refuses before any data (553, no such
 * directory) tells nothing about truncation, REST + STOR or replacing, so those points are not
 * completed (the report incomplete, exit 3) and, nothing having been made, the directory counts as
 * clean; a cut upload passes only once it really ran (150, then its bytes) and was not reported
 * complete, and its directory is left empty. What it makes goes as soon as the checks that use it are
 * done, not after the other groups; SIGINT or SIGTERM midway deletes it too, then exits 130 or 143;
 * a second SIGINT while it deletes ends it at once, naming the files it may have left.
 */
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { WriteArea } from '../../src/client/probe/write.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { probeCli, probeTarget, startProbe, type ProbeRun } from '../support/probe.js';
import { withDeadline } from '../support/raw-ftp.js';

/** The name of the first file in `dir` that matches `name`, once there is one (watched, not polled). */
function fileAppears(dir: string, name: RegExp): Promise<string> {
  const found = new Promise<string>((resolve, reject) => {
    const done = (f: string): void => {
      w.close();
      resolve(f);
    };
    const w = watch(dir, (_, f) => {
      if (f !== null && name.test(f)) done(f);
    });
    w.on('error', reject);
    readdir(dir).then((names) => {
      const f = names.find((n) => name.test(n));
      if (f !== undefined) done(f);
    }, reject);
  });
  return withDeadline(found, 60_000, `a file matching ${name} in ${dir}`);
}

/** DELE in /again waits for this: the probe's cleanup there cannot finish before its second signal. */
let releaseRemoves = (): void => {};
const removesHeld = new Promise<void>((resolve) => (releaseRemoves = resolve));

class HeldRemoves extends LocalStorage {
  override async remove(p: VPath, c: StorageContext): Promise<void> {
    if (p.startsWith('/again/')) await removesHeld;
    return super.remove(p, c);
  }
}

describe('ferry probe --write', { timeout: 180_000 }, () => {
  let s: TestServer;
  before(async () => {
    // Loopback allowed: the probe's deliberate TLS failures must not get it banned.
    s = await startFerry({
      defender: { allow: ['127.0.0.0/8'] },
      storageFor: (p) => new HeldRemoves({ root: p.home, readOnly: p.readOnly }),
    });
    await mkdir(path.join(s.root, 'w'));
  });
  after(async () => {
    releaseRemoves();
    await s?.close();
  });
  const url = (): string => `ftpes://${s.user}:${s.password}@127.0.0.1:${s.explicitPort}/`;
  const ca = (): string => path.join(path.dirname(s.root), 'tls', 'cert.pem');

  describe('into a directory that does not exist', () => {
    let r: ProbeRun;
    let report: ProbeReport;
    before(async () => {
      r = await probeCli([url(), '--json', '--ca', ca(), '--write', 'nosuchdir']);
      assert.notEqual(r.stdout, '', r.stderr);
      report = JSON.parse(r.stdout) as ProbeReport;
    });

    it('uploads refused with 553 leave the write points not completed (exit 3)', () => {
      const points = report.groups.flatMap((g) => g.points);
      for (const id of ['upload-truncation-detected', 'rest-stor', 'replace']) {
        const p = points.find((x) => x.id === id);
        assert.equal(p?.verdict, 'not-completed', `${id}: ${p?.received} (${p?.detail})`);
        assert.match(p?.detail ?? '', /^upload refused: 553 /, id);
      }
      // ABOR and STAT during a transfer needed the large file --write could not upload: not checked either.
      for (const id of ['abor', 'stat-during-transfer']) {
        const p = points.find((x) => x.id === id);
        assert.equal(p?.verdict, 'not-completed', `${id}: ${p?.detail}`);
        assert.match(p?.detail ?? '', /^upload refused: 553 /, id);
      }
      assert.equal(report.summary.fail, 0);
      assert.equal(report.summary.conformant, false);
      assert.equal(report.summary.complete, false);
      assert.equal(report.summary.incomplete.length, 1);
      assert.match(report.summary.incomplete[0] ?? '', /^upload refused: 553 /);
      assert.equal(r.code, 3, 'exit code: the report is incomplete');
    });

    it('counts the directory as cleaned up: nothing was made in it', () => {
      assert.deepEqual(report.write, { dir: 'nosuchdir', cleanedUp: true });
    });
  });

  it('a cut upload passes once it ran (150, then its bytes) and was not reported complete', async () => {
    const area = new WriteArea(probeTarget(s), 'w');
    const r = await area.run();
    assert.equal(r.truncation.verdict, 'pass', `${r.truncation.received} (${r.truncation.detail})`);
    assert.match(r.truncation.received, /^150, TLSv1\.3 resumed, 4\d\d /);
    assert.equal(r.restStor.verdict, 'pass', r.restStor.received);
    assert.equal(r.replace.verdict, 'pass', r.replace.received);
    assert.equal(await area.cleanup(), true);
    assert.deepEqual(await readdir(path.join(s.root, 'w')), []);
  });

  it('deletes its files once the checks that use them are done, before the other groups', async () => {
    await mkdir(path.join(s.root, 'order'));
    const r = await probeCli([url(), '--json', '--verbose', '--ca', ca(), '--write', 'order']);
    assert.notEqual(r.stdout, '', r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as ProbeReport).write, { dir: 'order', cleanedUp: true });
    const sent = r.stderr.split('\n').filter((l) => l.startsWith('> '));
    const lastDele = sent.findLastIndex((l) => l.startsWith('> DELE order/ferry-probe-'));
    assert.ok(lastDele > 0, 'no DELE');
    // MS-FTPS's AUTH SSL and the TLS group's handshakes come after, whatever they find.
    const authSsl = sent.indexOf('> AUTH SSL');
    assert.ok(authSsl > lastDele, `AUTH SSL (${authSsl}) before the last DELE (${lastDele})`);
    assert.deepEqual(await readdir(path.join(s.root, 'order')), []);
  });

  for (const [signal, code, file] of [
    ['SIGINT', 130, 'rest'],
    ['SIGTERM', 143, 'replace'],
  ] as const) {
    it(`${signal} during the write checks: deletes what it made, then exits ${code}`, async () => {
      const dir = path.join(s.root, signal);
      await mkdir(dir);
      const probe = startProbe([url(), '--ca', ca(), '--write', signal]);
      await fileAppears(dir, new RegExp(`^ferry-probe-[0-9a-f]+-${file}\\.bin$`));
      probe.child.kill(signal);
      const r = await probe.run;
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stdout, '', 'no report');
      assert.match(r.stderr, new RegExp(`interrupted; the probe's files in ${signal} were deleted`));
      assert.deepEqual(await readdir(dir), []);
    });
  }

  it('a second SIGINT while it deletes: stops at once, naming the files it may have left', async () => {
    const dir = path.join(s.root, 'again');
    await mkdir(dir);
    const probe = startProbe([url(), '--ca', ca(), '--write', 'again']);
    const stderr = probe.child.stderr;
    assert.ok(stderr);
    let said = '';
    const deleting = new Promise<void>((resolve) =>
      stderr.on('data', (d: Buffer) => {
        said += d.toString('utf8');
        if (said.includes("interrupted: deleting the probe's files")) resolve();
      }),
    );
    await fileAppears(dir, /^ferry-probe-[0-9a-f]+-rest\.bin$/);
    probe.child.kill('SIGINT');
    await withDeadline(deleting, 60_000, 'the probe deleting its files');
    probe.child.kill('SIGINT');
    const r = await probe.run;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stdout, '', 'no report');
    const line = r.stderr.split('\n').find((l) => l.includes('interrupted again')) ?? '';
    assert.match(line, /stopped without cleaning up; these may be left on the server: again\/ferry-probe-/);
    const left = await readdir(dir);
    assert.ok(left.length > 0, 'the held DELE left the files');
    for (const f of left) assert.ok(line.includes(`again/${f}`), `${f} not named: ${line}`);
    releaseRemoves();
  });
});
