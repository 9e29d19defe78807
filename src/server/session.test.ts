import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { generateSelfSigned } from '../tls/certificates.js';
import { SessionFamily } from '../tls/session-cache.js';
import { Session } from './session.js';

test('data protection: clear under PROT C, the TLS family under PROT P, never clear for PROT P without TLS', async () => {
  const session = new Session(false, '127.0.0.1', '127.0.0.1');
  assert.equal(session.dataProtection(), undefined);
  // Not reachable through commands (PROT needs TLS): a data connection must fail, not go clear.
  session.protect('P');
  assert.throws(() => session.dataProtection(), { code: 'ERR_TLS' });
  const family = new SessionFamily(tls.createSecureContext(await generateSelfSigned('localhost')));
  session.tlsStarted(family);
  assert.equal(session.dataProtection(), family);
  session.protect('C');
  assert.equal(session.dataProtection(), undefined);
});
