/**
 * Old clients refused by the TLS policy (tlsMinVersion, tlsCiphers) on the control connection:
 * a whole ClientHello offering only TLS 1.0, or only RSA key exchange, is a user's old client, not
 * an attack. It is not scored by the defender (eight TLS 1.0 attempts from a NATed office banned it,
 * and kept it banned after the administrator lowered --tls-min), and the log names what it offered
 * and the setting to change.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { describe, test } from 'node:test';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { useFerry, waitForLog, type LogLine } from './harness.js';
import type { TestServer } from '../support/ferry.js';

/** Each refused handshake scores 2 by default: two would ban under this threshold. */
const THRESHOLD = 4;
const ATTEMPTS = 3;

/** An implicit-port handshake from `from` with `options`; resolves once the server refused it. */
async function refusedHandshake(ts: TestServer, from: string, options: tls.ConnectionOptions): Promise<void> {
  const raw = net.connect({ host: ts.host, port: ts.implicitPort, localAddress: from });
  const sock = tls.connect({ socket: raw, rejectUnauthorized: false, ...options });
  const [err] = (await withDeadline(once(sock, 'error'), 10_000, 'the handshake to be refused')) as [Error];
  sock.destroy();
  assert.match(String((err as NodeJS.ErrnoException).code), /ALERT_PROTOCOL_VERSION|ALERT_HANDSHAKE_FAILURE/);
}

/** Logs in on the implicit port from `from`: the address is not banned. */
async function logsIn(ts: TestServer, from: string): Promise<void> {
  const ftp = await RawFtp.connect({
    host: ts.host,
    port: ts.implicitPort,
    implicit: true,
    localAddress: from,
  });
  try {
    await ftp.expect(220);
    await ftp.login(ts.user, ts.password);
  } finally {
    await ftp.close();
  }
}

const from = (l: LogLine, address: string): boolean => (l.obj as { remote?: string }).remote === address;

describe('control connections refused by tlsMinVersion or tlsCiphers', () => {
  const server = useFerry({ defender: { threshold: THRESHOLD } });

  test('TLS 1.0 only: not scored, logged with the versions offered and tlsMinVersion', async () => {
    const ts = server();
    const address = '127.0.0.21';
    const start = ts.logs.length;
    // OpenSSL offers TLS 1.0 only at security level 0.
    const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;
    for (let i = 0; i < ATTEMPTS; i++) await refusedHandshake(ts, address, old);
    const line = await waitForLog(ts, (l) => from(l, address) && /tlsMinVersion/.test(l.msg), start);
    assert.equal((line.obj as { setting?: string }).setting, 'tlsMinVersion');
    assert.deepEqual((line.obj as { offeredVersions?: string[] }).offeredVersions, ['TLSv1']);
    assert.equal((line.obj as { tlsMinVersion?: string }).tlsMinVersion, 'TLSv1.2');
    await logsIn(ts, address);
    assert.ok(!ts.logs.slice(start).some((l) => l.msg === 'address banned' && from(l, address)));
  });

  test('RSA key exchange only (TLS 1.2): not scored, logged with the suites offered and tlsCiphers', async () => {
    const ts = server();
    const address = '127.0.0.22';
    const start = ts.logs.length;
    const rsa = { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA' } as const;
    for (let i = 0; i < ATTEMPTS; i++) await refusedHandshake(ts, address, rsa);
    const line = await waitForLog(ts, (l) => from(l, address) && /tlsCiphers/.test(l.msg), start);
    const obj = line.obj as { setting?: string; offeredCiphers?: string[]; offeredVersions?: string[] };
    assert.equal(obj.setting, 'tlsCiphers');
    assert.ok(obj.offeredCiphers?.includes('AES128-SHA'), JSON.stringify(obj));
    assert.ok(obj.offeredCiphers?.includes('AES256-SHA'), JSON.stringify(obj));
    assert.deepEqual(obj.offeredVersions, ['TLSv1.2']);
    await logsIn(ts, address);
    assert.ok(!ts.logs.slice(start).some((l) => l.msg === 'address banned' && from(l, address)));
  });
});
