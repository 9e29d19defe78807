/**
 * A refused TLS handshake tells the client why (an alert), as OpenSSL's own servers do: with only
 * EOF, an admin testing tlsCiphers or tls.minVersion from the client side sees "connection dropped".
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { certificateFiles, loggedIn, useFerry } from './harness.js';
import { textOf } from '../support/raw-ftp.js';

/** TLS 1.2 with a cipher the server does not offer: OpenSSL answers alert 40 (handshake_failure). */
const REFUSED_CIPHER = { ciphers: 'AES256-SHA', maxVersion: 'TLSv1.2' } as const;
const HANDSHAKE_FAILURE = 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE';

/** The code of the error a TLS client over `raw` fails with (an alert's, or ECONNRESET/EOF's). */
async function refusal(raw: net.Socket, options: tls.ConnectionOptions): Promise<string | undefined> {
  const sock = tls.connect({ ...options, socket: raw, rejectUnauthorized: false });
  try {
    const [err] = (await once(sock, 'secureConnect').then(
      () => assert.fail('the handshake succeeded'),
      (e: unknown) => [e],
    )) as [NodeJS.ErrnoException];
    return err.code;
  } finally {
    sock.destroy();
    raw.destroy();
  }
}

async function connected(port: number): Promise<net.Socket> {
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  return raw;
}

/** Reads one reply from a plaintext control connection (enough for 220 and 234). */
async function replyLine(raw: net.Socket): Promise<string> {
  const [d] = (await once(raw, 'data')) as [Buffer];
  return d.toString();
}

describe('refused TLS handshakes end with an alert', () => {
  let cleanup: () => Promise<void> = async () => {};
  let tlsOverride: Awaited<ReturnType<typeof certificateFiles>>['tls'];
  before(async () => {
    const files = await certificateFiles();
    cleanup = files.cleanup;
    tlsOverride = { ...files.tls, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384' };
  });
  // Several refusals from one address: none of them may end in a ban.
  const server = useFerry(() => ({ tls: tlsOverride, defender: { enabled: false } }));
  after(() => cleanup());

  test('implicit FTPS: a cipher the server does not offer', async () => {
    const raw = await connected(server().implicitPort);
    assert.equal(await refusal(raw, REFUSED_CIPHER), HANDSHAKE_FAILURE);
  });

  test('implicit FTPS: a TLS version below tls.minVersion', async () => {
    const raw = await connected(server().implicitPort);
    const legacy = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    assert.equal(await refusal(raw, legacy), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'); // alert 70
  });

  test('explicit FTPS: AUTH TLS then a cipher the server does not offer', async () => {
    const raw = await connected(server().explicitPort);
    assert.match(await replyLine(raw), /^220/);
    raw.write('AUTH TLS\r\n');
    assert.match(await replyLine(raw), /^234/);
    assert.equal(await refusal(raw, REFUSED_CIPHER), HANDSHAKE_FAILURE);
  });

  for (const [verb, arg] of [
    ['LIST', ''],
    ['STOR', ' refused.bin'],
  ] as const) {
    test(`data connection (${verb}): a cipher the server does not offer`, async () => {
      const ftp = await loggedIn(server(), 'explicit');
      try {
        const port = await ftp.pasv();
        ftp.send(`${verb}${arg}\r\n`);
        const raw = await connected(port);
        assert.equal(await refusal(raw, REFUSED_CIPHER), HANDSHAKE_FAILURE);
        let r = await ftp.expect();
        if (r.code === 150) r = await ftp.expect();
        assert.ok(r.code >= 400, textOf(r));
      } finally {
        await ftp.close();
      }
    });
  }
});
