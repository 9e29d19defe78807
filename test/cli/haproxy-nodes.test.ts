/**
 * Two Ferry nodes (`ferry serve` on 127.0.0.2 and 127.0.0.3, one PostgreSQL, one directory tree)
 * behind a real HAProxy: TCP mode, PROXY protocol v2, round robin, health checks on each node's
 * /healthz. Control connections go through the balancer, data connections straight to the node
 * (each announces its own passive address). Sessions land on both nodes; a file uploaded on one is
 * downloaded on the other; kill -9 of a node leaves the other's transfer intact and, once the health
 * check marks the dead node down, every new login succeeds; the node restarted rejoins.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePasvReply } from '../../src/protocol/address.js';
import { ServeProcess } from '../support/ferry-process.js';
import { freePortOn, freeRangeOn, Haproxy, PROXY_HOST } from '../support/haproxy.js';
import { TestPostgres } from '../support/postgres.js';
import { addUserWith } from '../support/users-cli.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';

interface Node {
  readonly name: string;
  readonly host: string;
  readonly args: string[];
  proc: ServeProcess;
}

interface Front {
  readonly port: number;
  readonly implicit: boolean;
}

interface Landed {
  readonly ftp: RawFtp;
  /** The node serving the session: the address its PASV reply announces. */
  readonly host: string;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

let pgc: TestPostgres;
let dir: string;
let home: string;
let a: Node;
let b: Node;
let proxy: Haproxy;
let explicit: Front;
let implicit: Front;

/** A node's config and flags; its ports fixed up front so that a restarted node is where HAProxy expects it. */
async function prepareNode(name: string, host: string): Promise<Omit<Node, 'proc'>> {
  const ports = await freeRangeOn(3, [host]);
  const pasv = await freeRangeOn(4, [host]);
  const config = path.join(dir, `${name}.yaml`);
  await writeFile(
    config,
    [
      `dataDir: ${dir}/data-${name}`,
      'accounts:',
      `  postgres: "${pgc.url}"`,
      'proxyProtocol:',
      `  trusted: ["${PROXY_HOST}/32"]`,
      `passivePorts: "${pasv.min}-${pasv.max}"`,
      `passiveAddress: ${host}`,
      '',
    ].join('\n'),
  );
  const args = [
    '--config',
    config,
    '--listen',
    host,
    '--explicit-port',
    String(ports.min),
    '--implicit-port',
    String(ports.min + 1),
    '--admin-listen',
    `${host}:${ports.min + 2}`,
  ];
  return { name, host, args };
}

const explicitPort = (n: Omit<Node, 'proc'>): string => n.args[n.args.indexOf('--explicit-port') + 1] ?? '';
const implicitPort = (n: Omit<Node, 'proc'>): string => n.args[n.args.indexOf('--implicit-port') + 1] ?? '';
const adminPort = (n: Omit<Node, 'proc'>): string =>
  n.args[n.args.indexOf('--admin-listen') + 1]?.split(':')[1] ?? '';

function listen(
  name: string,
  front: number,
  nodes: readonly Omit<Node, 'proc'>[],
  port: typeof explicitPort,
): string {
  return [
    `listen ${name}`,
    `  bind ${PROXY_HOST}:${front}`,
    '  balance roundrobin',
    '  option httpchk GET /healthz',
    '  default-server inter 200ms fall 2 rise 2',
    ...nodes.map(
      (n) =>
        `  server ${n.name} ${n.host}:${port(n)} send-proxy-v2 check port ${adminPort(n)} source ${PROXY_HOST}`,
    ),
    '',
  ].join('\n');
}

async function startNode(n: Omit<Node, 'proc'>): Promise<ServeProcess> {
  return ServeProcess.start(n.args, dir);
}

/** A session through the balancer from `from`, logged in, with protected data; where it landed. */
async function login(front: Front, from: string, user: string, timeoutMs = 10_000): Promise<Landed> {
  const ftp = await RawFtp.connect({
    host: PROXY_HOST,
    port: front.port,
    implicit: front.implicit,
    localAddress: from,
    timeoutMs,
  });
  try {
    await ftp.expect(220);
    if (!front.implicit) await ftp.authTls('TLS');
    await ftp.login(user, 'pw');
    await ftp.cmd('PBSZ 0', 200);
    await ftp.cmd('PROT P', 200);
    await ftp.cmd('TYPE I', 200);
    const hp = parsePasvReply(textOf(await ftp.cmd('PASV', 227)));
    assert.ok(hp);
    // The PASV just taken is left pending: the next transfer asks for its own.
    return { ftp, host: hp.host };
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

/** PASV to the node itself, from the client's own address. */
async function transfer(s: Landed, from: string, verb: string, upload?: Uint8Array): Promise<Buffer> {
  const hp = parsePasvReply(textOf(await s.ftp.cmd('PASV', 227)));
  assert.ok(hp);
  assert.equal(hp.host, s.host, 'the data connection goes straight to the node');
  const conn = await s.ftp.openData(hp.port, { tls: true, host: hp.host, localAddress: from });
  await s.ftp.cmd(verb, 150);
  if (upload) {
    await s.ftp.uploadClean(conn, upload);
    await s.ftp.expect(226);
    return Buffer.alloc(0);
  }
  const data = await s.ftp.readAll(conn, 60_000);
  await s.ftp.expect(226);
  return data;
}

/** Logs in until a session lands on `host` (round robin: a few tries), closing the others. */
async function loginOn(front: Front, from: string, user: string, host: string): Promise<Landed> {
  for (let i = 0; i < 6; i++) {
    const s = await login(front, from, user);
    if (s.host === host) return s;
    await s.ftp.close();
  }
  throw new Error(`no session landed on ${host}`);
}

function addUser(name: string, ...flags: string[]): Promise<void> {
  return addUserWith(path.join(dir, 'a.yaml'), home, name, ...flags);
}

describe('two nodes behind HAProxy (PROXY v2, round robin, /healthz checks)', () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-haproxy-nodes-'));
    home = path.join(dir, 'homes');
    await mkdir(home);
    const [pa, pb] = [await prepareNode('a', '127.0.0.2'), await prepareNode('b', '127.0.0.3')];
    const [procA, procB] = await Promise.all([startNode(pa), startNode(pb)]);
    a = { ...pa, proc: procA };
    b = { ...pb, proc: procB };
    explicit = { port: await freePortOn([PROXY_HOST]), implicit: false };
    implicit = { port: await freePortOn([PROXY_HOST]), implicit: true };
    proxy = await Haproxy.withSections(
      listen('explicit', explicit.port, [a, b], explicitPort) +
        listen('implicit', implicit.port, [a, b], implicitPort),
    );
  });
  after(async () => {
    await proxy?.stop();
    await a?.proc.stop('SIGKILL');
    await b?.proc.stop();
    await pgc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('a user added through node A’s CLI logs in through the balancer; sessions land on both nodes', async () => {
    await addUser('una');
    for (const [front, from] of [
      [explicit, '127.0.0.4'],
      [implicit, '127.0.0.5'],
    ] as const) {
      const sessions: Landed[] = [];
      try {
        for (let i = 0; i < 4; i++) sessions.push(await login(front, from, 'una'));
        assert.deepEqual([...new Set(sessions.map((s) => s.host))].sort(), [a.host, b.host]);
      } finally {
        await Promise.all(sessions.map((s) => s.ftp.close()));
      }
      // Each node saw the client's own address, never the balancer's.
      for (const n of [a, b])
        await n.proc.waitForLog(
          (l) => l.msg === 'connect' && l.remote === from,
          `${n.name}: connect from ${from}`,
        );
    }
    for (const n of [a, b])
      assert.ok(!n.proc.log.some((l) => l.msg === 'connect' && l.remote === PROXY_HOST));
  });

  test('an upload through the balancer is downloaded through it on the other node', async () => {
    await addUser('ulla');
    const data = randomBytes(1024 * 1024);
    const up = await login(explicit, '127.0.0.6', 'ulla');
    try {
      await transfer(up, '127.0.0.6', 'STOR shared.bin', data);
    } finally {
      await up.ftp.close();
    }
    const other = up.host === a.host ? b.host : a.host;
    const down = await loginOn(implicit, '127.0.0.7', 'ulla', other);
    try {
      assert.equal(sha(await transfer(down, '127.0.0.7', 'RETR shared.bin')), sha(data));
    } finally {
      await down.ftp.close();
    }
  });

  test('kill -9 of node A: B’s transfer finishes intact, new logins all succeed once A is down; A rejoins', async () => {
    await addUser('kim', '--download-rate', '4M');
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(path.join(home, 'kim', 'big'), data);
    const onB = await loginOn(implicit, '127.0.0.8', 'kim', b.host);
    try {
      const got = transfer(onB, '127.0.0.8', 'RETR big'); // paced: about 1.5 s
      await a.proc.stop('SIGKILL');
      assert.equal(sha(await got), sha(data), 'the transfer on B is intact');
    } finally {
      await onB.ftp.close();
    }

    // Until the checks fail twice, a connection may still be sent to A and fail: retry logins
    // until four in a row succeed (bounded), then every further login succeeds, on B.
    await withDeadline(
      (async () => {
        for (let streak = 0; streak < 4;) {
          const s = await login(explicit, '127.0.0.9', 'kim', 3_000).catch(() => undefined);
          streak = s ? streak + 1 : 0;
          await s?.ftp.close();
        }
      })(),
      30_000,
      'the health check to take node A out',
    );
    for (let i = 0; i < 6; i++) {
      const s = await login(i % 2 ? implicit : explicit, '127.0.0.9', 'kim');
      await s.ftp.close();
      assert.equal(s.host, b.host);
    }

    // Restarted on the same ports: the checks see /healthz again and sessions land on A.
    a.proc = await startNode(a);
    await withDeadline(
      (async () => {
        for (;;) {
          const s = await login(explicit, '127.0.0.10', 'kim');
          await s.ftp.close();
          if (s.host === a.host) return;
        }
      })(),
      30_000,
      'a session to land on the restarted node A',
    );
    await a.proc.waitForLog(
      (l) => l.msg === 'connect' && l.remote === '127.0.0.10',
      'the restarted A serves the client',
    );
  });
});
