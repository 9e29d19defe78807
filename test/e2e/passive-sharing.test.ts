/**
 * Passive ports that fit real networks: a small range shared by clients of different addresses
 * (one pending transfer per client address per port), the passive address per client network,
 * and control connections that stay up (keepalive; no idle timeout while a transfer runs).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { download, enterPassive, secureLogin } from '../support/ftps-session.js';
import { type RawFtp, withDeadline } from '../support/raw-ftp.js';
import { freeRangeOn } from '../support/ports.js';
import { parseExposition, sample } from '../support/prometheus.js';
import { MODES, portOf, useFerry, waitForLog, withClients, type Mode } from './harness.js';
import type { TestServer } from '../support/ferry.js';

const CONTENT = Buffer.from('shared passive port\n'.repeat(5000));

/** Logged in from `from` (to `host`), PROT P on both modes, TYPE I. */
function loginFrom(ts: TestServer, mode: Mode, from: string, host: string = ts.host): Promise<RawFtp> {
  const [port, implicit] = [portOf(ts, mode), mode === 'implicit'];
  return secureLogin({ host, port, implicit, from, user: ts.user, password: ts.password });
}

/** The data connection from `from` to `port`, then RETR: the bytes, after 226. */
async function retrieveOn(ftp: RawFtp, port: number, from: string, file = 'file.bin'): Promise<Buffer> {
  const conn = await ftp.openData(port, { tls: true, localAddress: from });
  await ftp.cmd(`RETR ${file}`, 150);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  return data;
}

/** The fields `keys` of a log line's object. */
function pick(obj: object | undefined, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj ?? {}).filter(([k]) => keys.includes(k)));
}

// Probed in a child process before any leak baseline.
const range = await freeRangeOn(4, ['127.0.0.1']);
const inRange = (p: number): boolean => p >= range.min && p <= range.max;

describe('passive ports shared between client addresses', () => {
  const registry = new Registry();
  const server = useFerry(() => ({ passive: { portMin: range.min, portMax: range.max }, metrics: registry }));
  const waits = async (result: string): Promise<number> =>
    sample(parseExposition(await registry.metrics()), 'ferry_passive_wait_seconds_count', { result });

  for (const mode of MODES) {
    test(`${mode}: 16 clients (16 addresses) have transfers pending at once on a 4-port range, and all complete`, async () => {
      const ts = server();
      await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
      const addresses = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
      await withClients(async (track) => {
        const clients = await Promise.all(addresses.map(async (a) => track(await loginFrom(ts, mode, a))));
        // Every client's passive transfer is pending before any data connection opens.
        const ports = await Promise.all(clients.map(async (c) => (await enterPassive(c)).port));
        assert.ok(ports.every(inRange), `ports ${ports.join(',')} outside ${range.min}-${range.max}`);
        assert.ok(new Set(ports).size <= 4);
        const results = await Promise.all(
          clients.map((c, i) => retrieveOn(c, ports[i] ?? 0, addresses[i] ?? '')),
        );
        for (const r of results) assert.deepEqual(r, CONTENT);
      });
    });
  }

  test('one address: one pending transfer per port; the fifth session waits for a port, then gets one; the wait is warned and counted', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
    const from = '127.0.0.30';
    const logged = ts.logs.length;
    const waitedBefore = await waits('port');
    await withClients(async (track) => {
      const clients = await Promise.all(
        [1, 2, 3, 4, 5].map(async () => track(await loginFrom(ts, 'implicit', from))),
      );
      const [a, b, c, d, e] = clients;
      assert.ok(a && b && c && d && e);
      const ports = await Promise.all([a, b, c, d].map(async (x) => (await enterPassive(x)).port));
      assert.equal(new Set(ports).size, 4, 'a port holds one pending transfer of an address');
      let answered = false;
      const fifth = enterPassive(e).then((hp) => ((answered = true), hp));
      // Another address is not held up by it.
      const other = track(await loginFrom(ts, 'implicit', '127.0.0.31'));
      assert.deepEqual(await retrieveOn(other, (await enterPassive(other)).port, '127.0.0.31'), CONTENT);
      assert.equal(answered, false, 'the fifth PASV waits while every port holds one of its address');
      assert.deepEqual(await retrieveOn(a, ports[0] ?? 0, from), CONTENT);
      const freed = await withDeadline(fifth, 10_000, 'the fifth PASV');
      assert.equal(freed.port, ports[0]);
      assert.deepEqual(await retrieveOn(e, freed.port, from), CONTENT);
    });
    // The operator sees why a PASV took so long: its address holds every port of the range.
    const warned = ts.logs.slice(logged).filter((l) => l.msg.startsWith('passive port: every port'));
    assert.equal(warned.length, 1, 'one warning, for the fifth PASV');
    assert.equal(warned[0]?.level, 'warn');
    assert.deepEqual(
      pick(warned[0]?.obj, [
        'remote',
        'range',
        'rangeSize',
        'pendingFromAddress',
        'heldHere',
        'heldElsewhere',
      ]),
      {
        remote: from,
        range: `${range.min}-${range.max}`,
        rangeSize: 4,
        pendingFromAddress: 4,
        heldHere: 4,
        heldElsewhere: 0,
      },
    );
    assert.equal((await waits('port')) - waitedBefore, 1, 'ferry_passive_wait_seconds_count{result="port"}');
  });
});

describe('passive address per client network', () => {
  const server = useFerry({
    passive: {
      address: [
        { network: '127.0.0.2/32', address: '127.0.0.1' },
        { network: '127.0.0.0/29', address: '127.0.0.7' },
        '127.0.0.9',
      ],
    },
  });

  test('the first rule whose network holds the client wins; the plain address is the default', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
    await withClients(async (track) => {
      const lan = track(await loginFrom(ts, 'implicit', '127.0.0.2'));
      const hp = await enterPassive(lan);
      assert.equal(hp.host, '127.0.0.1');
      const conn = await lan.openData(hp.port, { tls: true, host: hp.host, localAddress: '127.0.0.2' });
      await lan.cmd('RETR file.bin', 150);
      assert.deepEqual(await lan.readAll(conn), CONTENT);
      await lan.expect(226);
      assert.equal(
        (await enterPassive(track(await loginFrom(ts, 'explicit', '127.0.0.3')))).host,
        '127.0.0.7',
      );
      assert.equal(
        (await enterPassive(track(await loginFrom(ts, 'implicit', '127.0.0.12')))).host,
        '127.0.0.9',
      );
    });
  });
});

describe('passive address when none is configured', () => {
  // Listening on every IPv4 address: the control connection may arrive on any loopback address.
  const server = useFerry({ explicit: { host: '0.0.0.0', port: 0 }, implicit: { host: '0.0.0.0', port: 0 } });

  for (const mode of MODES) {
    test(`${mode}: PASV announces the address the control connection arrived on`, async () => {
      const ts = server();
      await writeFile(path.join(ts.root, 'file.bin'), CONTENT);
      await withClients(async (track) => {
        for (const arrivedOn of ['127.0.0.1', '127.0.0.5']) {
          const ftp = track(await loginFrom(ts, mode, '127.0.0.1', arrivedOn));
          const { data, at } = await download(ftp, 'file.bin');
          assert.equal(at.host, arrivedOn);
          assert.deepEqual(data, CONTENT);
        }
      });
    });
  }
});

/**
 * The kernel's timer on the server's end of a TCP connection (/proc/net/tcp: 1 = retransmit, while
 * a reply is not acknowledged yet; 2 = keepalive). The kernel has no event for the ACK of the last
 * reply (delayed up to 40 ms): read again until the retransmit timer is over, within 5 s.
 */
async function serverTimer(serverPort: number, clientPort: number): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const timer = await readTimer(serverPort, clientPort);
    if (timer !== '01' || Date.now() > deadline) return timer;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function readTimer(serverPort: number, clientPort: number): Promise<string> {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
  const table = await readFile('/proc/net/tcp', 'utf8');
  const row = table
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(serverPort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`));
  assert.ok(row, `no socket ${serverPort} ↔ ${clientPort} in /proc/net/tcp`);
  return (row[5] ?? '').split(':')[0] ?? '';
}

describe('control connections behind load balancers', () => {
  // Longer than a data connection's TLS start (it may wait 500 ms for the transfer command).
  const server = useFerry({ timeouts: { idleMs: 2_000 } });

  for (const mode of MODES) {
    test(`${mode}: TCP keepalive is on; the idle timeout does not run while a transfer does`, async () => {
      const ts = server();
      // More than the socket buffers on both ends hold, so the server's send really waits.
      const big = Buffer.alloc(24 * 1024 * 1024, 7);
      await writeFile(path.join(ts.root, 'big.bin'), big);
      await withClients(async (track) => {
        const ftp = track(await loginFrom(ts, mode, '127.0.0.1'));
        assert.equal(await serverTimer(portOf(ts, mode), ftp.socket.localPort ?? 0), '02', 'keepalive timer');
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('RETR big.bin', 150);
        // The client stops reading: the server's transfer waits on a full socket.
        conn.stream.pause();
        // A session that logged in after the RETR, idle: its timeout ends it first...
        const from = ts.logs.length;
        const idle = track(await loginFrom(ts, mode, '127.0.0.1'));
        await withDeadline(idle.closed, 10_000, 'the idle session to be closed');
        await waitForLog(ts, (l) => l.msg === 'idle timeout', from);
        // ...while the transferring one, idle longer, still runs: it completes.
        const data = await ftp.readAll(conn);
        assert.equal(data.length, big.length);
        await ftp.expect(226);
      });
    });
  }
});
