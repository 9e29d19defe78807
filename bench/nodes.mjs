#!/usr/bin/env node
// Sessions/s and aggregate RETR throughput through a real HAProxy (TCP, PROXY v2, round robin) in
// front of one Ferry node and then two (127.0.0.2, 127.0.0.3; accounts in PostgreSQL, one
// directory), and straight to one node without the balancer, for the balancer's overhead. C clients
// (from 127.0.0.4 and up) loop for T seconds: connect + TLS + login + QUIT, then RETR of a 16 MiB
// file over PASV (through the balancer, which forwards each node's own passive range to that node,
// as in the README's "Running several nodes"; without the balancer, straight to the node). Needs
// the build (`npm run build`) and, as root, PostgreSQL 15 and HAProxy (scripts/setup-postgres.sh,
// scripts/setup-haproxy.sh).
// `node bench/nodes.mjs [C=8] [T=10]`
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { TestPostgres } = await import(path.join(dist, 'test/support/postgres.js'));
const { ServeProcess } = await import(path.join(dist, 'test/support/ferry-process.js'));
const { Haproxy, PROXY_HOST, balancedSection, frontendSections } = await import(
  path.join(dist, 'test/support/haproxy.js')
);
const { freeRangeOn, freePortOn } = await import(path.join(dist, 'test/support/ports.js'));
const { RawFtp, textOf } = await import(path.join(dist, 'test/support/raw-ftp.js'));
const { addUserWith } = await import(path.join(dist, 'test/support/users-cli.js'));
const { parsePasvReply } = await import(path.join(dist, 'src/protocol/address.js'));

const C = Number(process.argv[2] ?? 8);
const T = Number(process.argv[3] ?? 10) * 1000;
const SIZE = 16 * 1024 * 1024;

/** `pasv`: this node's own passive range (the balancer forwards it to this node). */
async function node(dir, pg, name, host, pasv) {
  const ports = await freeRangeOn(2, [host]);
  const config = path.join(dir, `${name}.yaml`);
  await writeFile(
    config,
    `dataDir: ${dir}/data-${name}\naccounts:\n  postgres: "${pg.url}"\nproxyProtocol:\n  trusted: ["${PROXY_HOST}/32"]\n` +
      // No passiveAddress: PASV announces the address the client connected to (the PROXY header's).
      `passivePorts: "${pasv.min}-${pasv.max}"\n` +
      `admin:\n  listen: "${host}:${ports.min + 1}"\n`,
  );
  const proc = await ServeProcess.start(['--config', config, '--listen', host, '--explicit-port', '0'], dir);
  return { name, host, config, admin: ports.min + 1, pasv, proc };
}

async function balancer(nodes) {
  const port = await freePortOn([PROXY_HOST]);
  const servers = nodes.map((n) => ({
    name: n.name,
    host: n.host,
    port: n.proc.implicitPort,
    adminPort: n.admin,
  }));
  const passive = nodes.map((n) => ({
    ports: `${n.pasv.min}-${n.pasv.max}`,
    server: n.host,
    proxy: 'send-proxy-v2',
  }));
  const h = await Haproxy.withSections(
    balancedSection('ftps', port, servers) + frontendSections(passive, 'passive-'),
  );
  return { host: PROXY_HOST, port, stop: () => h.stop() };
}

async function session(target, from) {
  const ftp = await RawFtp.connect({
    host: target.host,
    port: target.port,
    implicit: true,
    localAddress: from,
  });
  await ftp.expect(220);
  await ftp.login('bench', 'pw');
  return ftp;
}

/** C clients looping `once(from)` for T ms: the count per second and the bytes per second. */
async function loop(once) {
  let count = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async (_, i) => {
      const from = `127.0.0.${4 + i}`;
      while (performance.now() - t0 < T) {
        bytes += await once(from);
        count++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return { perSecond: count / s, mibPerSecond: bytes / s / 1024 / 1024 };
}

async function measure(label, target) {
  const logins = await loop(async (from) => {
    const ftp = await session(target, from);
    await ftp.cmd('QUIT', 221);
    await ftp.close();
    return 0;
  });
  const retr = await loop(async (from) => {
    const ftp = await session(target, from);
    try {
      await ftp.cmd('TYPE I', 200);
      const hp = parsePasvReply(textOf(await ftp.cmd('PASV', 227)));
      const conn = await ftp.openData(hp.port, { tls: true, host: hp.host, localAddress: from });
      await ftp.cmd('RETR big', 150);
      const data = await ftp.readAll(conn, 120_000);
      await ftp.expect(226);
      return data.length;
    } finally {
      await ftp.close();
    }
  });
  console.log(
    `${label.padEnd(28)} ${logins.perSecond.toFixed(1).padStart(7)} sessions/s  ` +
      `${retr.mibPerSecond.toFixed(1).padStart(7)} MiB/s RETR (${C} clients, ${T / 1000} s each)`,
  );
  return { logins: logins.perSecond, retr: retr.mibPerSecond };
}

const pg = await TestPostgres.create();
const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-nodes-'));
const nodes = [];
try {
  const homes = path.join(dir, 'homes');
  await mkdir(homes);
  // One probe for both ranges, so that they cannot overlap: free on both nodes and on the balancer.
  const r = await freeRangeOn(4 * C, ['127.0.0.2', '127.0.0.3', PROXY_HOST]);
  const half = r.min + 2 * C;
  nodes.push(
    await node(dir, pg, 'a', '127.0.0.2', { min: r.min, max: half - 1 }),
    await node(dir, pg, 'b', '127.0.0.3', { min: half, max: r.max }),
  );
  await addUserWith(nodes[0].config, homes, 'bench');
  await writeFile(path.join(homes, 'bench', 'big'), randomBytes(SIZE));
  const direct = await measure('one node, no balancer', {
    host: nodes[0].host,
    port: nodes[0].proc.implicitPort,
  });
  const results = [direct];
  for (const set of [nodes.slice(0, 1), nodes]) {
    const lb = await balancer(set);
    try {
      results.push(await measure(`HAProxy + ${set.length} node${set.length > 1 ? 's' : ''}`, lb));
    } finally {
      await lb.stop();
    }
  }
  const [d, one, two] = results;
  console.log(
    `ratios: HAProxy/direct (1 node) ${(one.logins / d.logins).toFixed(2)} sessions, ${(one.retr / d.retr).toFixed(2)} RETR; ` +
      `2 nodes/1 node ${(two.logins / one.logins).toFixed(2)} sessions, ${(two.retr / one.retr).toFixed(2)} RETR`,
  );
} finally {
  await Promise.all(nodes.map((n) => n.proc.stop()));
  await pg.destroy();
  await rm(dir, { recursive: true, force: true });
}
