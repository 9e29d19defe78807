/**
 * Ferry behind a real HAProxy (TCP mode, send-proxy and send-proxy-v2) on loopback: HAProxy listens
 * on 127.0.0.20 and connects to Ferry (127.0.0.1) from there; clients bind 127.0.0.2+ so that the
 * real client address differs from the proxy's. Both topologies of the README: passive ports
 * proxied port by port (a range), and passive connections straight to Ferry (passiveAddress).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { download, enterPassive, secureLogin } from '../support/ftps-session.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';
import { Haproxy, PROXY_HOST } from '../support/haproxy.js';
import { freePortOn, freeRangeOn } from '../support/ports.js';
import type { TestServer } from '../support/ferry.js';
import { MODES, useFerry, waitForLog, withClients, type LogLine, type Mode } from './harness.js';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const FERRY = '127.0.0.1';
const CONTENT = Buffer.from('through the load balancer\n'.repeat(2000));

type Version = 'v1' | 'v2';
const VERSIONS: readonly Version[] = ['v1', 'v2'];

const remoteOf = (l: LogLine): unknown => (l.obj as { remote?: unknown }).remote;

/** Logged in as alice from `from` through `port` (HAProxy's frontend), PROT P on both modes. */
function loginFrom(port: number, mode: Mode, from: string): Promise<RawFtp> {
  const implicit = mode === 'implicit';
  return secureLogin({ host: PROXY_HOST, port, implicit, from, user: 'alice', password: 'secret' });
}

/** A plain TCP connection: sends `first` (after the greeting on explicit), returns what came until close. */
async function sendAndWaitClose(
  port: number,
  from: string,
  first: Buffer,
  waitGreeting: boolean,
): Promise<string> {
  const socket = net.connect({ host: FERRY, port, localAddress: from });
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  let sent = false;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    if (waitGreeting && !sent && Buffer.concat(chunks).includes('\r\n')) {
      sent = true;
      socket.write(first);
    }
  });
  if (!waitGreeting) socket.write(first);
  await withDeadline(closed, 10_000, 'the server to close the connection');
  return Buffer.concat(chunks).toString('latin1');
}

// Before any suite's leak baseline: the probe listeners are gone by then. One probe for the passive
// range and the four frontends after it, so that no two of them get the same port.
const ports = await freeRangeOn(8, [FERRY, PROXY_HOST]);
const range = { min: ports.min, max: ports.min + 3 };

describe('behind HAProxy: PROXY protocol v1 and v2, passive ports proxied port by port', () => {
  let proxy: Haproxy | undefined;
  /** HAProxy's frontend port per mode and version. */
  const front = new Map<string, number>();

  // Registered before useFerry's: HAProxy is gone before the leak check.
  after(async () => {
    await proxy?.stop();
  });
  const server = useFerry(() => ({
    passive: { portMin: range.min, portMax: range.max },
    proxyProtocol: { trusted: [`${PROXY_HOST}/32`], headerTimeoutMs: 2_000 },
    defender: { threshold: 3 },
  }));
  before(async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
    const frontends = [];
    let next = range.max + 1;
    for (const mode of MODES) {
      for (const v of VERSIONS) {
        const port = next++;
        front.set(`${mode} ${v}`, port);
        const ferryPort = mode === 'explicit' ? ts.explicitPort : ts.implicitPort;
        const send = v === 'v1' ? 'send-proxy' : 'send-proxy-v2';
        frontends.push({ ports: String(port), server: `${FERRY}:${ferryPort}`, proxy: send } as const);
      }
    }
    // The passive range, port by port: HAProxy forwards each port to the same port on Ferry.
    frontends.push({ ports: `${range.min}-${range.max}`, server: FERRY, proxy: 'send-proxy-v2' } as const);
    proxy = await Haproxy.start(frontends);
  });

  for (const mode of MODES) {
    for (const v of VERSIONS) {
      test(`${mode}, ${v}: the session, its log and its data connection see the client's address, not the proxy's`, async () => {
        const ts = server();
        const from = ts.logs.length;
        const client = '127.0.0.2';
        await withClients(async (track) => {
          const ftp = track(await loginFrom(front.get(`${mode} ${v}`) ?? 0, mode, client));
          const { data, at } = await download(ftp, 'file.bin', { from: client });
          assert.deepEqual(data, CONTENT);
          assert.equal(at.host, PROXY_HOST, 'PASV announces the address the client connected to: the proxy');
          await ftp.quit();
        });
        const connects = ts.logs.slice(from).filter((l) => l.msg === 'connect');
        assert.deepEqual(connects.map(remoteOf), [client]);
        assert.deepEqual(
          connects.map((l) => (l.obj as { via?: string }).via),
          [PROXY_HOST],
          'the proxy is named beside the client',
        );
        assert.ok(!ts.logs.slice(from).some((l) => /refused/.test(l.msg)), 'nothing refused');
      });
    }
  }

  for (const mode of MODES) {
    test(`${mode}: a client that starts data TLS only after the 150 (Python's ftplib) downloads and uploads through the proxy`, async () => {
      const ts = server();
      const client = '127.0.0.2';
      await withClients(async (track) => {
        const ftp = track(await loginFrom(front.get(`${mode} v1`) ?? 0, mode, client));
        // The proxy's header arrives with the connection; the client's ClientHello only after the 150.
        let at = await enterPassive(ftp);
        let plain = await ftp.openData(at.port, { tls: false, host: at.host, localAddress: client });
        await ftp.cmd('RETR file.bin', 150);
        const down = await ftp.secureData(plain);
        assert.deepEqual(await ftp.readAll(down), CONTENT);
        await ftp.expect(226);
        at = await enterPassive(ftp);
        plain = await ftp.openData(at.port, { tls: false, host: at.host, localAddress: client });
        await ftp.cmd(`STOR late-${mode}.bin`, 150);
        await ftp.uploadClean(await ftp.secureData(plain), CONTENT);
        await ftp.expect(226);
        assert.deepEqual(await readFile(path.join(ts.root, `late-${mode}.bin`)), CONTENT);
      });
    });
  }

  test('a data connection through the proxy from another client address is refused; the client its own', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await loginFrom(front.get('implicit v2') ?? 0, 'implicit', '127.0.0.2'));
      const { host, port } = await enterPassive(ftp);
      const from = ts.logs.length;
      const intruder = net.connect({ host, port, localAddress: '127.0.0.3' });
      intruder.on('error', () => {});
      await waitForLog(ts, (l) => /data connection refused/.test(l.msg), from);
      const refused = ts.logs.slice(from).find((l) => /data connection refused/.test(l.msg));
      assert.equal((refused?.obj as { from?: string }).from, '127.0.0.3');
      await withDeadline(new Promise((r) => intruder.once('close', r)), 10_000, 'the intruder to be cut');
      intruder.destroy();
      const conn = await ftp.openData(port, { tls: true, host, localAddress: '127.0.0.2' });
      await ftp.cmd('RETR file.bin', 150);
      assert.deepEqual(await ftp.readAll(conn), CONTENT);
      await ftp.expect(226);
    });
  });

  test('a data connection through the proxy that does not resume the TLS session is logged from the client, via the proxy', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await loginFrom(front.get('explicit v2') ?? 0, 'explicit', '127.0.0.2'));
      await ftp.cmd('TYPE I', 200);
      const { host, port } = await enterPassive(ftp);
      const from = ts.logs.length;
      await ftp.cmd('RETR file.bin', 150);
      // A full handshake instead of resuming the control connection's session.
      const fresh = await ftp
        .openData(port, { tls: true, reuse: false, host, localAddress: '127.0.0.2' })
        .catch(() => undefined);
      const line = await waitForLog(ts, (l) => /did not resume/.test(l.msg), from);
      const obj = line.obj as { from?: string; via?: string };
      assert.deepEqual({ from: obj.from, via: obj.via }, { from: '127.0.0.2', via: PROXY_HOST });
      if (fresh) assert.equal((await ftp.readAll(fresh)).length, 0, 'no file data on a refused connection');
      // From the client (its PROXY header) and offering no session: the transfer ends at once.
      await ftp.expect(522);
      const again = await enterPassive(ftp);
      const conn = await ftp.openData(again.port, { tls: true, host: again.host, localAddress: '127.0.0.2' });
      await ftp.cmd('RETR file.bin', 150);
      assert.deepEqual(await ftp.readAll(conn), CONTENT);
      await ftp.expect(226);
    });
  });

  test("PORT/EPRT behind the proxy: only to the client's real address, never to the proxy's", async () => {
    await withClients(async (track) => {
      const client = '127.0.0.2';
      const ftp = track(await loginFrom(front.get('explicit v1') ?? 0, 'explicit', client));
      const toProxy = await ftp.cmd(`EPRT |1|${PROXY_HOST}|40000|`);
      assert.equal(toProxy.code, 504, textOf(toProxy));
      const listener = await ftp.listenActive({ tls: true, on: client });
      await ftp.cmd(`EPRT |1|${client}|${listener.port}|`, 200);
      // Ferry connects right after its 150, straight to the client, while the 150 goes through
      // HAProxy: under load the connection comes first (listenActive holds it for accept()).
      await ftp.cmd('RETR file.bin', 150);
      const conn = await listener.accept();
      assert.deepEqual(await ftp.readAll(conn), CONTENT);
      await ftp.expect(226);
    });
  });

  for (const mode of MODES) {
    test(`${mode}: a PROXY header from an address that is not a trusted proxy is refused`, async () => {
      const ts = server();
      const from = ts.logs.length;
      const forged = formatProxyV1({ address: '192.0.2.9', port: 1234 }, { address: FERRY, port: 21 });
      const port = mode === 'explicit' ? ts.explicitPort : ts.implicitPort;
      const got = await sendAndWaitClose(port, '127.0.0.6', forged, mode === 'explicit');
      const line = await waitForLog(ts, (l) => /not a trusted proxy/.test(l.msg), from);
      assert.equal(remoteOf(line), '127.0.0.6');
      if (mode === 'explicit') assert.match(got, /^220 /, 'the greeting, then nothing');
      else assert.equal(got, '');
      assert.ok(!ts.logs.slice(from).some((l) => l.msg === 'login'));
    });
  }

  test('a trusted proxy that sends no header is refused (required by default)', async () => {
    const ts = server();
    const from = ts.logs.length;
    // Implicit: the ClientHello comes where the header should be.
    const tcp = net.connect({ host: FERRY, port: ts.implicitPort, localAddress: PROXY_HOST });
    tcp.on('error', () => {});
    const hello = tls.connect({ socket: tcp, rejectUnauthorized: false });
    hello.on('error', () => {});
    await withDeadline(new Promise((r) => hello.once('close', r)), 10_000, 'the server to close');
    const noHeader = await waitForLog(ts, (l) => /no PROXY header/.test(l.msg), from);
    assert.equal(remoteOf(noHeader), PROXY_HOST);
    // Explicit: nothing comes, and no greeting either, until the header timeout.
    const got = await sendAndWaitClose(ts.explicitPort, PROXY_HOST, Buffer.alloc(0), true);
    assert.equal(got, '');
    await waitForLog(ts, (l) => /no complete PROXY header in time/.test(l.msg), from);
    // Garbage after the signature: refused at once.
    await sendAndWaitClose(ts.explicitPort, PROXY_HOST, Buffer.from('PROXY TCP4 x y 1 2\r\n'), false);
    await waitForLog(ts, (l) => /invalid PROXY header/.test(l.msg), from);
    assert.ok(!ts.logs.slice(from).some((l) => l.msg === 'connect'));
  });

  test('the defender bans the client behind the proxy, not the proxy', async () => {
    const ts = server();
    const attacker = '127.0.0.4';
    const port = front.get('explicit v2') ?? 0;
    await Promise.all(
      [1, 2, 3].map(async () => {
        const ftp = await RawFtp.connect({ host: PROXY_HOST, port, implicit: false, localAddress: attacker });
        try {
          await ftp.expect(220);
          await ftp.authTls('TLS');
          await ftp.cmd('USER alice', 331);
          await ftp.cmd('PASS wrong', 530);
        } finally {
          await ftp.close();
        }
      }),
    );
    const ban = await waitForLog(ts, (l) => l.msg === 'address banned');
    assert.equal(remoteOf(ban), attacker);
    // The attacker, through the proxy: 421 at once.
    const banned = await RawFtp.connect({ host: PROXY_HOST, port, implicit: false, localAddress: attacker });
    try {
      const r = await banned.expect();
      assert.equal(r.code, 421, textOf(r));
    } finally {
      await banned.close();
    }
    // Another client through the same proxy logs in and transfers.
    await withClients(async (track) => {
      const ftp = track(await loginFrom(port, 'explicit', '127.0.0.5'));
      assert.deepEqual((await download(ftp, 'file.bin', { from: '127.0.0.5' })).data, CONTENT);
    });
    assert.ok(!ts.logs.some((l) => l.msg === 'address banned' && remoteOf(l) === PROXY_HOST));
  });

  test('implicit: garbage instead of a ClientHello, read with the PROXY header, is scored for the client', async () => {
    const ts = server();
    const attacker = '192.0.2.66';
    const from = ts.logs.length;
    // As the proxy sends it when the client's first bytes come with the header: one segment.
    const header = formatProxyV1(
      { address: attacker, port: 4000 },
      { address: FERRY, port: ts.implicitPort },
    );
    const garbage = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]);
    // tls-failure scores 2 of the threshold 3: the second one bans.
    for (let i = 0; i < 2; i++) {
      await sendAndWaitClose(ts.implicitPort, PROXY_HOST, Buffer.concat([header, garbage]), false);
    }
    const ban = await waitForLog(ts, (l) => l.msg === 'address banned' && remoteOf(l) === attacker, from);
    assert.equal(remoteOf(ban), attacker);
  });
});

describe('behind HAProxy: control through the proxy, passive connections straight to Ferry', () => {
  let proxy: Haproxy | undefined;
  let port = 0;
  after(async () => {
    await proxy?.stop();
  });
  const server = useFerry({
    // Clients reach Ferry's own address for data: PASV must announce it, not the proxy's.
    passive: { address: FERRY },
    proxyProtocol: { trusted: [`${PROXY_HOST}/32`] },
  });
  before(async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
    port = await freePortOn([PROXY_HOST]);
    proxy = await Haproxy.start([
      { ports: String(port), server: `${FERRY}:${ts.explicitPort}`, proxy: 'send-proxy' },
    ]);
  });

  test('explicit, v1: the direct data connection from the client is checked against its real address', async () => {
    const ts: TestServer = server();
    await withClients(async (track) => {
      const ftp = track(await loginFrom(port, 'explicit', '127.0.0.3'));
      const { data, at } = await download(ftp, 'file.bin', { from: '127.0.0.3' });
      assert.equal(at.host, FERRY);
      assert.deepEqual(data, CONTENT);
      // The same client's data connection from another address (the proxy's) would be someone else's.
      const { port: p } = await enterPassive(ftp);
      const from = ts.logs.length;
      const other = net.connect({ host: FERRY, port: p, localAddress: PROXY_HOST });
      other.on('error', () => {});
      const refused = await waitForLog(ts, (l) => /data connection refused/.test(l.msg), from);
      assert.equal((refused.obj as { from?: string }).from, PROXY_HOST);
      other.destroy();
    });
  });
});
