/**
 * Two Ferry nodes (`ferry serve` on 127.0.0.2 and 127.0.0.3, one PostgreSQL, one directory tree)
 * behind a real HAProxy: TCP mode, PROXY protocol v2, round robin, health checks on each node's
 * /healthz. Data connections go through the balancer too: each node has its own passive range,
 * which HAProxy forwards (port by port, with a PROXY header) to that node, and PASV announces the
 * balancer's address; so EPSV (a port on the control connection's address, the balancer's) and
 * PASV both reach the node holding the session. Sessions land on both nodes; a file uploaded on one
 * is downloaded on the other; kill -9 of a node leaves the other's transfer intact and, once the
 * health check marks the dead node down, every new login succeeds; the node restarted rejoins.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServeProcess } from '../support/ferry-process.js';
import { download, enterPassive, secureLogin, upload, type PassiveVerb } from '../support/ftps-session.js';
import { balancedSection, frontendSections, Haproxy, PROXY_HOST } from '../support/haproxy.js';
import { freeRangeOn } from '../support/ports.js';
import { TestPostgres } from '../support/postgres.js';
import { addUserWith } from '../support/users-cli.js';
import { type RawFtp, withDeadline } from '../support/raw-ftp.js';

interface Range {
  readonly min: number;
  readonly max: number;
}

interface NodeSetup {
  readonly name: string;
  readonly host: string;
  readonly args: string[];
  /** This node's passive range, forwarded by the balancer to this node only. */
  readonly passive: Range;
}

interface Node extends NodeSetup {
  proc: ServeProcess;
}

interface Front {
  readonly port: number;
  readonly implicit: boolean;
}

interface Landed {
  readonly ftp: RawFtp;
  /** The node serving the session: the one whose passive range its EPSV port is in. */
  readonly node: Node;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const inRange = (port: number, r: Range): boolean => port >= r.min && port <= r.max;

let pgc: TestPostgres;
let dir: string;
let home: string;
let a: Node;
let b: Node;
let proxy: Haproxy;
let explicit: Front;
let implicit: Front;

/** A node's config and flags; its ports fixed up front so that a restarted node is where HAProxy expects it. */
async function prepareNode(name: string, host: string, passive: Range): Promise<NodeSetup> {
  const ports = await freeRangeOn(3, [host]);
  const config = path.join(dir, `${name}.yaml`);
  await writeFile(
    config,
    [
      `dataDir: ${dir}/data-${name}`,
      'accounts:',
      `  postgres: "${pgc.url}"`,
      'proxyProtocol:',
      `  trusted: ["${PROXY_HOST}/32"]`,
      `passivePorts: "${passive.min}-${passive.max}"`,
      // The balancer's public address: clients reach every node's passive range there.
      `passiveAddress: ${PROXY_HOST}`,
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
  return { name, host, args, passive };
}

const flag = (n: NodeSetup, name: string): number => Number(n.args[n.args.indexOf(name) + 1] ?? 0);
const adminPort = (n: NodeSetup): number =>
  Number(n.args[n.args.indexOf('--admin-listen') + 1]?.split(':')[1] ?? 0);

/** HAProxy's sections: control ports balanced over the nodes, each node's passive range to that node. */
function balancerConfig(nodes: readonly NodeSetup[]): string {
  const balanced = (port: '--explicit-port' | '--implicit-port') =>
    nodes.map((n) => ({ name: n.name, host: n.host, port: flag(n, port), adminPort: adminPort(n) }));
  const passive = nodes.map((n) => ({
    ports: `${n.passive.min}-${n.passive.max}`,
    server: n.host, // no port: the one the client connected to
    proxy: 'send-proxy-v2' as const,
  }));
  return (
    balancedSection('explicit', explicit.port, balanced('--explicit-port')) +
    balancedSection('implicit', implicit.port, balanced('--implicit-port')) +
    frontendSections(passive, 'passive-')
  );
}

async function startNode(n: NodeSetup): Promise<ServeProcess> {
  return ServeProcess.start(n.args, dir);
}

/** The node whose passive range holds `port` (the balancer sends that port's connections there). */
function nodeOfPort(port: number): Node {
  const n = [a, b].find((x) => inRange(port, x.passive));
  assert.ok(n, `port ${port} is in no node's passive range`);
  return n;
}

/** A session through the balancer from `from`, logged in, with protected data; where it landed. */
async function login(front: Front, from: string, user: string, timeoutMs = 10_000): Promise<Landed> {
  const ftp = await secureLogin({
    host: PROXY_HOST,
    port: front.port,
    implicit: front.implicit,
    from,
    user,
    password: 'pw',
    timeoutMs,
  });
  try {
    // Left pending: the next transfer asks for its own.
    const { port } = await enterPassive(ftp, 'EPSV');
    return { ftp, node: nodeOfPort(port) };
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

/** A transfer through the balancer's forwarded range of the session's own node. */
async function transfer(
  s: Landed,
  from: string,
  file: string,
  o: { via?: PassiveVerb; upload?: Uint8Array } = {},
): Promise<Buffer> {
  const via = o.via ?? 'PASV';
  const t = { via, from, timeoutMs: 60_000 };
  const { at, data } = o.upload
    ? { at: await upload(s.ftp, file, o.upload, t), data: Buffer.alloc(0) }
    : await download(s.ftp, file, t);
  assert.equal(at.host, PROXY_HOST, `${via}: the data connection goes to the balancer`);
  assert.ok(inRange(at.port, s.node.passive), `${via} port ${at.port}: in ${s.node.name}'s range`);
  return data;
}

/** Logs in until a session lands on `node` (round robin: a few tries), closing the others. */
async function loginOn(front: Front, from: string, user: string, node: Node): Promise<Landed> {
  for (let i = 0; i < 6; i++) {
    const s = await login(front, from, user);
    if (s.node === node) return s;
    await s.ftp.close();
  }
  throw new Error(`no session landed on ${node.name}`);
}

function addUser(name: string, ...flags: string[]): Promise<void> {
  return addUserWith(path.join(dir, 'a.yaml'), home, name, ...flags);
}

describe('two nodes behind HAProxy (PROXY v2, round robin, /healthz checks, passive ranges per node)', () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-haproxy-nodes-'));
    home = path.join(dir, 'homes');
    await mkdir(home);
    // One probe for both ranges, so that they cannot overlap: free on both nodes and on the balancer.
    const ranges = await freeRangeOn(8, ['127.0.0.2', '127.0.0.3', PROXY_HOST]);
    const pa = await prepareNode('a', '127.0.0.2', { min: ranges.min, max: ranges.min + 3 });
    const pb = await prepareNode('b', '127.0.0.3', { min: ranges.min + 4, max: ranges.max });
    const [procA, procB] = await ServeProcess.all([startNode(pa), startNode(pb)]);
    a = { ...pa, proc: procA };
    b = { ...pb, proc: procB };
    const fronts = await freeRangeOn(2, [PROXY_HOST]);
    explicit = { port: fronts.min, implicit: false };
    implicit = { port: fronts.max, implicit: true };
    proxy = await Haproxy.withSections(balancerConfig([a, b]));
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
        assert.deepEqual([...new Set(sessions.map((s) => s.node.name))].sort(), ['a', 'b']);
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

  for (const [mode, from] of [
    ['explicit', '127.0.0.11'],
    ['implicit', '127.0.0.12'],
  ] as const) {
    test(`${mode}: EPSV and PASV downloads and uploads through the balancer reach the session's node, on both nodes`, async () => {
      const user = `eva${mode[0] ?? ''}`;
      await addUser(user);
      const front = mode === 'explicit' ? explicit : implicit;
      for (const node of [a, b]) {
        const s = await loginOn(front, from, user, node);
        try {
          for (const [i, [up, down]] of (
            [
              ['EPSV', 'PASV'],
              ['PASV', 'EPSV'],
            ] as const
          ).entries()) {
            const data = randomBytes(256 * 1024 + i); // its size tells its log lines apart
            const file = `${node.name}-${up}.bin`;
            await transfer(s, from, file, { via: up, upload: data });
            assert.equal(
              sha(await transfer(s, from, file, { via: down })),
              sha(data),
              `${up} up, ${down} down`,
            );
            // The node's own log (written in batches, in order: a session's login line comes before
            // its transfers'): both transfers of a session of this user ended there with 226.
            const loggedIn = (session: unknown): boolean =>
              node.proc.log.some((l) => l.msg === 'login' && l.user === user && l.session === session);
            for (const verb of ['STOR', 'RETR'])
              await node.proc.waitForLog(
                (l) =>
                  l.msg === 'transfer' &&
                  l.transfer === verb &&
                  l.bytes === data.length &&
                  l.reply === 226 &&
                  loggedIn(l.session),
                `${node.name}: ${verb} of ${data.length} bytes`,
              );
          }
        } finally {
          await s.ftp.close();
        }
      }
      for (const n of [a, b]) {
        const refused = n.proc.log.filter((l) => /refused/.test(l.msg ?? ''));
        assert.deepEqual(refused, [], `${n.name} refused nothing`);
      }
    });
  }

  test('an upload through the balancer is downloaded through it on the other node', async () => {
    await addUser('ulla');
    const data = randomBytes(1024 * 1024);
    const up = await login(explicit, '127.0.0.6', 'ulla');
    try {
      await transfer(up, '127.0.0.6', 'shared.bin', { upload: data });
    } finally {
      await up.ftp.close();
    }
    const other = up.node === a ? b : a;
    const down = await loginOn(implicit, '127.0.0.7', 'ulla', other);
    try {
      assert.equal(sha(await transfer(down, '127.0.0.7', 'shared.bin')), sha(data));
    } finally {
      await down.ftp.close();
    }
  });

  test('kill -9 of node A: B’s transfer finishes intact, new logins all succeed once A is down; A rejoins', async () => {
    await addUser('kim', '--download-rate', '4M');
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(path.join(home, 'kim', 'big'), data);
    const onB = await loginOn(implicit, '127.0.0.8', 'kim', b);
    try {
      const got = transfer(onB, '127.0.0.8', 'big', { via: 'EPSV' }); // paced: about 1.5 s
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
      assert.equal(s.node, b);
    }

    // Restarted on the same ports: the checks see /healthz again and sessions land on A.
    a.proc = await startNode(a);
    await withDeadline(
      (async () => {
        for (;;) {
          const s = await login(explicit, '127.0.0.10', 'kim');
          await s.ftp.close();
          if (s.node === a) return;
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
