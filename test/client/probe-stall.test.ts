/**
 * `ferry probe` against a server that stops answering midway (`kill -STOP`): the checks it could
 * not do are not completed with `the server stopped answering`, never a FAIL or "not supported"
 * read from the silence, and the report is incomplete (exit 3). A silence on one connection while
 * new ones are still greeted stays a verdict (as a server holding STAT back during a transfer).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { REPO_ROOT } from '../support/peers.js';
import { probeCli } from '../support/probe.js';

/**
 * A TCP proxy to the control port `port` on loopback. On its connection number `at` (connections
 * counted by their first byte from the client: a probe's look at whether the server still greets
 * sends none), the first reply after the client spoke (to AUTH TLS) is forwarded, then `stall`
 * runs: it stops the server, or returns true to hold that connection silent from then on.
 */
async function proxy(
  port: number,
  at: number,
  stall: () => boolean,
): Promise<{ port: number; close: () => Promise<void> }> {
  const open = new Set<net.Socket>();
  let speakers = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let number = 0;
    let silent = false;
    client.on('data', (d: Buffer) => {
      if (number === 0) number = ++speakers;
      if (!silent) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (silent) return;
      const now = number === at;
      // The server is stopped before the client can act on this reply: no race with it.
      if (now) silent = stall();
      client.write(d);
      if (now) number = -1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Fixture {
  readonly verdicts: Readonly<Record<string, string | readonly string[]>>;
}

function accepted(want: string | readonly string[] | undefined, got: string): boolean {
  return Array.isArray(want) ? want.includes(got) : want === got;
}

/** Not applicable here: ABOR and STAT during a transfer need a file of 4 MiB, the others --write. */
const NOT_HERE = ['abor', 'stat-during-transfer', 'upload-truncation-detected', 'rest-stor', 'replace'];

describe('ferry probe against a server that stops answering', { timeout: 240_000 }, () => {
  let dir: string;
  let explicitFixture: Fixture;
  let implicitFixture: Fixture;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-probe-stall-'));
    // Loopback allowed: the probe's deliberate TLS failures must not get it banned.
    await writeFile(path.join(dir, 'ferry.yaml'), 'defender:\n  allow: [127.0.0.0/8]\n');
    const fixture = async (name: string): Promise<Fixture> =>
      JSON.parse(await readFile(path.join(REPO_ROOT, 'test/fixtures/probe', name), 'utf8')) as Fixture;
    explicitFixture = await fixture('ferry-explicit.json');
    implicitFixture = await fixture('ferry-implicit.json');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A probe with `--timeout seconds` through the proxy to a new `ferry serve` (one process). */
  const probe = async (
    security: 'explicit' | 'implicit',
    seconds: number,
    at: number,
    stall: (server: FerryProcess) => boolean,
  ): Promise<{ code: number; report: ProbeReport }> => {
    const server = await spawnFerry({ args: ['--config', path.join(dir, 'ferry.yaml')] });
    const port = security === 'explicit' ? server.explicitPort : server.implicitPort;
    const p = await proxy(port, at, () => stall(server));
    try {
      await writeFile(path.join(server.root, 'small.txt'), 'hello\n');
      const ca = path.join(dir, `ca-${server.pid}.pem`); // one per server: the probes run at once
      await writeFile(ca, server.ca);
      const scheme = security === 'explicit' ? 'ftpes' : 'ftps';
      const url = `${scheme}://${server.user}:${server.password}@127.0.0.1:${p.port}/`;
      const r = await probeCli([url, '--json', '--ca', ca, '--timeout', String(seconds)]);
      assert.notEqual(r.stdout, '', r.stderr);
      return { code: r.code, report: JSON.parse(r.stdout) as ProbeReport };
    } finally {
      process.kill(server.pid, 'SIGCONT');
      await p.close();
      await server.stop();
    }
  };

  // The probe's connections come in a fixed order. Explicit: connection 10 is
  // data-other-session-refused's second control connection: its TLS handshake timed out, read as
  // FAIL; connection 18 is the TLS 1.2 handshake: read as "TLS 1.2 not supported". Implicit:
  // connection 2 is implicit-prot-implied's, read as FAIL, and the check whether the server still
  // answers met a TLS handshake that timed out. (Implicit, with 5 s: no check before it waits that
  // long, so none of those checks' connections comes in between.)
  // At once: each has its own server and proxy, and mostly waits out its --timeout. A reply late
  // for the load could only end a probe early the same way (not completed, exit 3).
  describe('stopped midway', { concurrency: true }, () => {
    for (const [security, seconds, at, first] of [
      ['explicit', 2, 10, 'data-other-session-refused'],
      ['explicit', 2, 18, 'tls-1.2'],
      ['implicit', 5, 2, 'implicit-prot-implied'],
    ] as const) {
      it(`${security}, stopped at ${first}: the rest is not completed (exit 3), no verdict from the silence`, async () => {
        const stop = (server: FerryProcess): boolean => process.kill(server.pid, 'SIGSTOP') && false;
        const { code, report } = await probe(security, seconds, at, stop);
        const points = report.groups.flatMap((g) => g.points);
        // Every other point is what a probe of an answering Ferry finds.
        const fixture = security === 'explicit' ? explicitFixture : implicitFixture;
        const wrong = points
          .filter((p) => p.verdict !== 'not-completed' && !accepted(fixture.verdicts[p.id], p.verdict))
          .filter((p) => !(NOT_HERE.includes(p.id) && p.verdict === 'not-applicable'))
          .map((p) => `${p.id}: ${p.verdict} (${p.received} | ${p.detail ?? ''})`);
        assert.deepEqual(wrong, []);
        assert.equal(points.find((p) => p.id === first)?.verdict, 'not-completed', first);
        const stalled = `the server stopped answering (no reply within ${seconds * 1000} ms)`;
        for (const p of points.filter((x) => x.verdict === 'not-completed'))
          assert.equal(p.detail, stalled, p.id);
        assert.equal(report.summary.fail, 0);
        assert.equal(report.summary.complete, false);
        assert.deepEqual(report.summary.incomplete, [stalled]);
        assert.equal(code, 3, 'exit code: the report is incomplete');
      });
    }
  });

  it('one silent connection while new ones are greeted is still a verdict, not a stall', async () => {
    const { report } = await probe('explicit', 2, 18, () => true);
    const points = report.groups.flatMap((g) => g.points);
    // No handshake after its AUTH TLS, and the server answers others: the server's own doing.
    const tls12 = points.find((p) => p.id === 'tls-1.2');
    assert.equal(tls12?.verdict, 'not-supported', tls12?.received);
    assert.equal(report.summary.notCompleted, 0);
    assert.equal(report.summary.complete, true);
  });
});
