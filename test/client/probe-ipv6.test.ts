/**
 * `ferry probe` over IPv6: PORT cannot carry an IPv6 address (RFC 2428 gives EPRT for that), so
 * its point does not apply, rather than failing on the probe's own RangeError; and the listener it
 * had opened for the server's connection is closed (the probe ends without "still open").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { probeCli } from '../support/probe.js';

describe('ferry probe over IPv6', { timeout: 120_000 }, () => {
  let s: TestServer;
  before(async () => {
    s = await startFerry({
      explicit: { host: '::1', port: 0 },
      implicit: { host: '::1', port: 0 },
      defender: { allow: ['::1/128'] },
    });
  });
  after(async () => {
    await s?.close();
  });

  it('PORT does not apply, EPRT is checked, nothing is left open', async () => {
    const r = await probeCli([
      `ftpes://${s.user}:${s.password}@[::1]:${s.explicitPort}/`,
      '--json',
      '--insecure',
    ]);
    const report = JSON.parse(r.stdout) as ProbeReport;
    // The listener opened for PORT's connection was closed (it would keep the probe running).
    assert.doesNotMatch(r.stderr, /still open/);
    const byId = new Map(report.groups.flatMap((g) => g.points).map((p) => [p.id, p]));
    assert.equal(byId.get('port')?.verdict, 'not-applicable', JSON.stringify(byId.get('port')));
    assert.match(byId.get('port')?.detail ?? '', /IPv6.*EPRT/);
    assert.equal(byId.get('eprt')?.verdict, 'pass', JSON.stringify(byId.get('eprt')));
    assert.equal(r.code, 0, r.stderr);
  });
});
