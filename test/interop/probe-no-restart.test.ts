/**
 * `ferry probe --write` against a ProFTPD that refuses REST + STOR (no `AllowStoreRestart`, its
 * default, as the benchmark's ProFTPD runs): the server resets the data connection the probe has
 * opened while the probe waits for its reply. The probe reports the point and cleans up; it must not
 * die of that reset (it did: an unhandled ECONNRESET, its files left on the server).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { startProftpd, type FtpsPeer } from '../support/peers.js';
import { probeCli } from '../support/probe.js';

describe('probe --write on a ProFTPD without store restart', { timeout: 180_000 }, () => {
  let p: FtpsPeer;
  before(async () => {
    p = await startProftpd({ implicit: true, storeRestart: false });
    // A directory the server's user owns, empty.
    await p.putFile('w/.keep', '');
  });
  after(() => p?.stop());

  it('reports REST + STOR refused, then deletes what it made', async () => {
    const url = `ftps://${p.user}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/`;
    const r = await probeCli([url, '--json', '--ca', p.certificate.certFile, '--write', 'w']);
    assert.notEqual(r.stdout, '', r.stderr);
    const report = JSON.parse(r.stdout) as ProbeReport;
    const rest = report.groups.flatMap((g) => g.points).find((x) => x.id === 'rest-stor');
    assert.ok(rest, 'no rest-stor point');
    assert.notEqual(rest.verdict, 'pass', `${rest.received} (${rest.detail})`);
    assert.deepEqual(report.write, { dir: 'w', cleanedUp: true });
    assert.deepEqual(await readdir(path.join(p.root, 'w')), ['.keep']);
  });
});
