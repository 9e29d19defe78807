/**
 * `resume-newest-session` asks whether a data connection's own, newer session resumes (TLS 1.3
 * gives each connection new tickets). vsftpd (TLS 1.2) resumes the control's session on the first
 * data connection and gives no newer one: the same session, so the point does not apply (it was
 * "not supported", read from Node's missing 'session' event). Ferry (TLS 1.3) resumes the newer
 * ticket: pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { newestSession } from '../../src/client/probe/rfc4217.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { probeTarget } from '../support/probe.js';

describe('resume-newest-session', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let ferry: TestServer;
  before(async () => {
    peer = await startVsftpd();
    ferry = await startFerry();
  });
  after(async () => {
    await peer?.stop();
    await ferry?.close();
  });

  it('vsftpd, TLS 1.2: the first data connection holds the control’s own session, not applicable', async () => {
    const p = await newestSession(
      probeTarget({ explicitPort: peer.port, user: peer.user, password: peer.password }),
    );
    assert.equal(p.verdict, 'not-applicable', JSON.stringify(p));
    assert.match(p.received, /^150, TLSv1\.2 resumed, 226 /);
    assert.match(p.detail ?? '', /resumed the control's session and was given no newer one/);
  });

  it('Ferry, TLS 1.3: the second data connection resumes the first one’s ticket, pass', async () => {
    const p = await newestSession(probeTarget(ferry));
    assert.equal(p.verdict, 'pass', JSON.stringify(p));
    assert.match(p.received, /TLSv1\.3 resumed/);
  });
});
