/**
 * tlsCiphers starting with `+` adds suites after Ferry's defaults (README, TLS): an old TLS 1.2
 * client with RSA key exchange only (AES128-SHA) gets in under tlsMinVersion 1.2, while every other
 * client still gets the defaults' forward-secret suites first.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { certificateFiles, useFerry } from './harness.js';

/** The cipher the implicit port negotiates with a TLS 1.2 client offering `ciphers`, or the error code. */
async function negotiated(port: number, ciphers: string): Promise<string> {
  const sock = tls.connect({
    port,
    host: '127.0.0.1',
    ciphers,
    maxVersion: 'TLSv1.2',
    rejectUnauthorized: false,
  });
  try {
    await once(sock, 'secureConnect');
    return sock.getCipher().name;
  } catch (err) {
    return `refused: ${String((err as NodeJS.ErrnoException).code)}`;
  } finally {
    sock.destroy();
  }
}

describe('tlsCiphers "+AES128-SHA": added to the defaults', () => {
  let files: Awaited<ReturnType<typeof certificateFiles>>;
  before(async () => {
    files = await certificateFiles();
  });
  after(() => files.cleanup());
  const server = useFerry(() => ({
    tls: { ...files.tls, ciphers: '+AES128-SHA' },
    defender: { enabled: false },
  }));

  test('an RSA-key-exchange-only TLS 1.2 client is served; others still get ECDHE first', async () => {
    const port = server().implicitPort;
    assert.equal(await negotiated(port, 'AES128-SHA'), 'AES128-SHA');
    assert.equal(
      await negotiated(port, 'AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384'),
      'ECDHE-RSA-AES256-GCM-SHA384',
    );
    // A suite neither in the defaults nor added is still refused.
    assert.match(await negotiated(port, 'AES256-SHA'), /^refused: /);
  });
});
