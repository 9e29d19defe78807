/**
 * `ferry probe` against a Ferry whose defender banned the prober's address before it starts (the
 * defender's defaults: loopback is not on the allow list): explicit FTPS greets it with 421,
 * implicit closes the connection before the TLS handshake. Either way the report is still written,
 * every point not completed with that reason (exit 3), and standard error says what it likely means
 * and what to do.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { connectSecure, waitForLog } from '../e2e/harness.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { REPO_ROOT } from '../support/peers.js';
import { probeCli } from '../support/probe.js';

const ADVICE = /most likely a ban or a connection limit .*`defender: allow:`/;

describe('ferry probe, banned before it starts', { timeout: 120_000 }, () => {
  let s: TestServer;
  before(async () => {
    // One failed login bans 127.0.0.1.
    s = await startFerry({ defender: { threshold: 1 } });
    const ftp = await connectSecure(s, 'explicit');
    try {
      await ftp.cmd(`USER ${s.user}`, 331);
      await ftp.cmd('PASS wrong', 530);
    } finally {
      await ftp.close();
    }
    await waitForLog(s, (l) => l.msg === 'address banned');
  });
  after(async () => {
    await s?.close();
  });

  const cases = [
    {
      mode: 'explicit',
      scheme: 'ftpes',
      why: 'server refused the connection: 421 Service not available: this address is temporarily banned.',
      greeting: '421 Service not available: this address is temporarily banned.',
    },
    {
      mode: 'implicit',
      scheme: 'ftps',
      why: 'server refused the connection: closed before the TLS handshake',
      greeting: '-',
    },
  ] as const;
  for (const c of cases) {
    it(`${c.mode}: a report with every point not completed, exit 3, and what to do`, async () => {
      const port = c.mode === 'explicit' ? s.explicitPort : s.implicitPort;
      const url = `${c.scheme}://${s.user}:${s.password}@127.0.0.1:${port}/`;
      const r = await probeCli([url, '--json', '--write', 'w']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, ADVICE);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.equal(report.greeting, c.greeting);
      const fixture = JSON.parse(
        await readFile(path.join(REPO_ROOT, 'test/fixtures/probe', `ferry-${c.mode}.json`), 'utf8'),
      ) as { verdicts: Record<string, string> };
      const points = report.groups.flatMap((g) => g.points);
      // Every point an unbanned probe reports, none checked.
      assert.deepEqual(points.map((p) => p.id).sort(), Object.keys(fixture.verdicts).sort());
      for (const p of points) assert.deepEqual([p.id, p.verdict, p.detail], [p.id, 'not-completed', c.why]);
      assert.deepEqual(report.summary.incomplete, [c.why]);
      assert.equal(report.summary.notCompleted, points.length);
      // Nothing was uploaded: the write directory counts as clean.
      assert.deepEqual(report.write, { dir: 'w', cleanedUp: true });
    });
  }

  it('the text report says why too', async () => {
    const r = await probeCli([`ftps://${s.user}:${s.password}@127.0.0.1:${s.implicitPort}/`]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stdout,
      /^INCOMPLETE: points not checked: server refused the connection: closed before the TLS handshake$/m,
    );
    assert.match(r.stderr, ADVICE);
  });
});
