/**
 * `ferry probe --write` against Ferry: an upload the server refuses before any data (550, no such
 * directory) tells nothing about truncation, REST + STOR or replacing, so those points are not
 * completed (the report incomplete, exit 3) and, nothing having been made, the directory counts as
 * clean; a cut upload passes only once it really ran (150, then its bytes) and was not reported
 * complete, and its directory is left empty.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeContext } from '../../src/client/probe/context.js';
import { point, type ProbeReport } from '../../src/client/probe/types.js';
import { WriteArea } from '../../src/client/probe/write.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { probeCli, probeTarget, type ProbeRun } from '../support/probe.js';

describe('ferry probe --write', { timeout: 180_000 }, () => {
  let s: TestServer;
  before(async () => {
    // Loopback allowed: the probe's deliberate TLS failures must not get it banned.
    s = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    await mkdir(path.join(s.root, 'w'));
  });
  after(async () => {
    await s?.close();
  });

  describe('into a directory that does not exist', () => {
    let r: ProbeRun;
    let report: ProbeReport;
    before(async () => {
      const url = `ftpes://${s.user}:${s.password}@127.0.0.1:${s.explicitPort}/`;
      const ca = path.join(path.dirname(s.root), 'tls', 'cert.pem');
      r = await probeCli([url, '--json', '--ca', ca, '--write', 'nosuchdir']);
      assert.notEqual(r.stdout, '', r.stderr);
      report = JSON.parse(r.stdout) as ProbeReport;
    });

    it('uploads refused with 550 leave the write points not completed (exit 3)', () => {
      const points = report.groups.flatMap((g) => g.points);
      for (const id of ['upload-truncation-detected', 'rest-stor', 'replace']) {
        const p = points.find((x) => x.id === id);
        assert.equal(p?.verdict, 'not-completed', `${id}: ${p?.received} (${p?.detail})`);
        assert.match(p?.detail ?? '', /^upload refused: 550 /, id);
      }
      // ABOR and STAT during a transfer needed the large file --write could not upload: not checked either.
      for (const id of ['abor', 'stat-during-transfer']) {
        const p = points.find((x) => x.id === id);
        assert.equal(p?.verdict, 'not-completed', `${id}: ${p?.detail}`);
        assert.match(p?.detail ?? '', /^upload refused: 550 /, id);
      }
      assert.equal(report.summary.fail, 0);
      assert.equal(report.summary.conformant, false);
      assert.equal(report.summary.complete, false);
      assert.equal(report.summary.incomplete.length, 1);
      assert.match(report.summary.incomplete[0] ?? '', /^upload refused: 550 /);
      assert.equal(r.code, 3, 'exit code: the report is incomplete');
    });

    it('counts the directory as cleaned up: nothing was made in it', () => {
      assert.deepEqual(report.write, { dir: 'nosuchdir', cleanedUp: true });
    });
  });

  it('a cut upload passes once it ran (150, then its bytes) and was not reported complete', async () => {
    const ctx: ProbeContext = {
      t: probeTarget(s),
      greeting: { code: 220, lines: ['ready'] },
      features: new Map(),
      sample: undefined,
      writeDir: 'w',
      limits: [],
      protPoint: point('pbsz-prot-p', 'PBSZ 0 and PROT P', '-', '-', 'pass'),
    };
    const area = new WriteArea(ctx, 'w');
    const r = await area.run();
    assert.equal(r.truncation.verdict, 'pass', `${r.truncation.received} (${r.truncation.detail})`);
    assert.match(r.truncation.received, /^150, TLSv1\.3 resumed, 4\d\d /);
    assert.equal(r.restStor.verdict, 'pass', r.restStor.received);
    assert.equal(r.replace.verdict, 'pass', r.replace.received);
    assert.equal(await area.cleanup(), true);
    assert.deepEqual(await readdir(path.join(s.root, 'w')), []);
  });
});
