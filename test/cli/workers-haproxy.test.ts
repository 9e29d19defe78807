/**
 * `ferry serve --workers 2` behind a real HAProxy: the primary reads the PROXY header before
 * admission and hands the worker the client's address with the socket (and the bytes it read past
 * the header); workers see the client in their logs and data-connection checks; the primary's
 * defender bans the client, not the proxy; a header from elsewhere is refused.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { ServeProcess, type LogLine } from '../support/ferry-process.js';
import { Haproxy, PROXY_HOST } from '../support/haproxy.js';
import { freeRangeOn } from '../support/ports.js';
import { download, secureLogin } from '../support/ftps-session.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';

const CONTENT = 'one worker, behind the proxy\n'.repeat(2000);
const USERS = ['a', 'b', 'c'].flatMap((u) => ['--user', `${u}:pw-${u}`]);

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-haproxy-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'file.txt'), CONTENT);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function login(
  port: number,
  implicit: boolean,
  from: string,
  user: string,
  password = `pw-${user}`,
): Promise<RawFtp> {
  return secureLogin({ host: PROXY_HOST, port, implicit, from, user, password });
}

async function retrieveFrom(ftp: RawFtp, from: string): Promise<string> {
  const { data, at } = await download(ftp, 'file.txt', { from });
  assert.equal(at.host, PROXY_HOST);
  return data.toString();
}

test('--workers 2 behind HAProxy (send-proxy, send-proxy-v2): client addresses reach the workers; bans hit the client', async () => {
  const pasv = await freeRangeOn(6, ['127.0.0.1', PROXY_HOST]);
  const config = path.join(dir, 'proxy.yaml');
  await writeFile(
    config,
    [
      'proxyProtocol:',
      `  trusted: ["${PROXY_HOST}/32"]`,
      'defender:',
      '  threshold: 3',
      `passivePorts: "${pasv.min}-${pasv.max}"`,
      '',
    ].join('\n'),
  );
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'data'), ...USERS],
    root,
  );
  const fronts = await freeRangeOn(2, [PROXY_HOST]);
  const [explicitFront, implicitFront] = [fronts.min, fronts.max];
  let proxy: Haproxy | undefined;
  const open: RawFtp[] = [];
  try {
    proxy = await Haproxy.start([
      { ports: String(explicitFront), server: `127.0.0.1:${r.explicitPort}`, proxy: 'send-proxy' },
      { ports: String(implicitFront), server: `127.0.0.1:${r.implicitPort}`, proxy: 'send-proxy-v2' },
      { ports: `${pasv.min}-${pasv.max}`, server: '127.0.0.1', proxy: 'send-proxy-v2' },
    ]);
    // Two sessions held together: one on each worker.
    const a = await login(explicitFront, false, '127.0.0.2', 'a');
    open.push(a);
    const b = await login(implicitFront, true, '127.0.0.3', 'b');
    open.push(b);
    assert.equal(await retrieveFrom(a, '127.0.0.2'), CONTENT);
    assert.equal(await retrieveFrom(b, '127.0.0.3'), CONTENT);
    const connectOf = (from: string): Promise<LogLine> =>
      r.waitForLog((l) => l.msg === 'connect' && l.remote === from, `connect from ${from}`);
    const pids = new Set([(await connectOf('127.0.0.2')).pid, (await connectOf('127.0.0.3')).pid]);
    assert.deepEqual([...pids].sort(), [...r.workerPids].sort(), 'served by both workers');
    assert.ok(!r.log.some((l) => l.msg === 'connect' && l.remote === PROXY_HOST));

    // A forged header straight to Ferry from an address that is not the proxy: refused.
    const forged = net.connect({ host: '127.0.0.1', port: r.implicitPort, localAddress: '127.0.0.6' });
    forged.on('error', () => {});
    forged.write(formatProxyV1({ address: '192.0.2.1', port: 1 }, { address: '127.0.0.1', port: 990 }));
    await withDeadline(
      new Promise((done) => forged.once('close', done)),
      10_000,
      'the forged connection to close',
    );
    const refused = await r.waitForLog((l) => /not a trusted proxy/.test(l.msg ?? ''), 'the refusal');
    assert.equal(refused.remote, '127.0.0.6');
    assert.ok(!r.log.some((l) => l.msg === 'login' && l.remote === '127.0.0.6'));

    // Three wrong passwords from 127.0.0.4 through the proxy: the primary bans 127.0.0.4.
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        login(explicitFront, false, '127.0.0.4', 'c', 'wrong'),
        /expected reply 230, got 530/,
      );
    const ban = await r.waitForLog((l) => l.msg === 'address banned', 'the ban');
    assert.equal(ban.remote, '127.0.0.4');
    // Each failed login names the client, not the proxy (fail2ban reads these lines).
    const failures = (): LogLine[] => r.log.filter((l) => l.msg === 'login failed');
    await r.waitForLog(() => failures().length >= 3, 'three failed logins');
    const failed = failures();
    assert.deepEqual(
      failed.map((l) => l.remote),
      ['127.0.0.4', '127.0.0.4', '127.0.0.4'],
    );
    const banned = await RawFtp.connect({
      host: PROXY_HOST,
      port: explicitFront,
      implicit: false,
      localAddress: '127.0.0.4',
    });
    assert.match(textOf(await banned.expect(421)), /banned/);
    await banned.close();
    const c = await login(implicitFront, true, '127.0.0.5', 'c');
    open.push(c);
    assert.equal(await retrieveFrom(c, '127.0.0.5'), CONTENT);
  } finally {
    await Promise.all(open.map((s) => s.close()));
    await proxy?.stop();
    assert.equal(await r.stop(), 0);
  }
});
