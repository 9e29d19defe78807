/**
 * The defender, in process: bans at accept on both ports after the threshold, the allow list, the
 * cap on connections not logged in, the login timeout, passive-port limits, and password checks
 * that an attacker's flood cannot monopolize. 127.0.0.2+ are attackers, 127.0.0.1 the legit client.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { Reply } from '../../src/protocol/reply.js';
import { CLIENT_BINARIES, runProcess } from '../support/clients.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';
import {
  wrongPassword,
  MODES,
  portOf,
  useFerry,
  viaProxy,
  waitForLog,
  withClients,
  type Mode,
} from './harness.js';
import type { TestServer } from '../support/ferry.js';

const LEGIT = '127.0.0.1';
const ATTACKER = '127.0.0.2';

/** Connected from `from`, greeting read, inside TLS; not logged in. */
async function connectFrom(ts: TestServer, mode: Mode, from: string, timeoutMs?: number): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: ts.host,
    port: portOf(ts, mode),
    implicit: mode === 'implicit',
    localAddress: from,
    timeoutMs,
  });
  try {
    await ftp.expect(220);
    if (mode === 'explicit') await ftp.authTls('TLS');
    return ftp;
  } catch (err) {
    await ftp.close();
    throw err;
  }
}

/** One wrong password from `from` (530); the connection is closed after. */
async function failLogin(ts: TestServer, mode: Mode, from: string, user = 'alice'): Promise<void> {
  const ftp = await connectFrom(ts, mode, from);
  try {
    await ftp.cmd(`USER ${user}`, 331);
    await ftp.cmd('PASS wrong', 530);
  } finally {
    await ftp.close();
  }
}

/** A plain TCP connection from `from` that sends nothing: every byte the server sends until it closes. */
async function bytesUntilClosed(port: number, from: string): Promise<Buffer> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  await withDeadline(
    new Promise((resolve) => socket.once('close', resolve)),
    5_000,
    'the server to close the connection',
  );
  return Buffer.concat(chunks);
}

/** REIN, answered 220: TLS ends with it (the client then talks in the clear, or starts TLS again). */
async function logOut(ftp: RawFtp): Promise<void> {
  await ftp.cmd('REIN', 220);
  await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
  await ftp.stopTls();
}

/** After logOut(): TLS again (AUTH TLS, or a new handshake and greeting), then a login. */
async function logInAgain(ts: TestServer, mode: Mode, ftp: RawFtp): Promise<void> {
  if (mode === 'explicit') await ftp.authTls('TLS');
  else {
    await ftp.startTls();
    await ftp.expect(220);
  }
  await ftp.login(ts.user, ts.password);
}

/** Logs in from `from` and uploads and downloads a file (data connections come from 127.0.0.1). */
async function loginAndTransfer(ts: TestServer, mode: Mode, from = LEGIT): Promise<void> {
  const ftp = await connectFrom(ts, mode, from);
  try {
    await ftp.login(ts.user, ts.password);
    if (mode === 'explicit') {
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT P', 200);
    }
    await ftp.cmd('TYPE I', 200);
    const body = Buffer.from(`hello from ${from} over ${mode}\n`);
    const [, done] = await ftp.store(`legit-${mode}.txt`, body);
    assert.equal(done.code, 226, textOf(done));
    assert.deepEqual(await ftp.retrieve(`legit-${mode}.txt`), body);
  } finally {
    await ftp.close();
  }
}

describe('defender: bans at accept', () => {
  // 3 failed logins ban (the default of 15 points is unit-tested with an injected clock).
  const server = useFerry({ defender: { threshold: 3 } });

  for (const mode of MODES) {
    test(`${mode}: failed logins past the threshold ban the address; explicit gets 421, implicit is closed before TLS; others unaffected`, async () => {
      const ts = server();
      const from = mode === 'explicit' ? ATTACKER : '127.0.0.3';
      await Promise.all([1, 2, 3].map(() => failLogin(ts, mode, from)));
      await waitForLog(
        ts,
        (l) => l.msg === 'address banned' && (l.obj as { remote?: string }).remote === from,
      );

      const explicit = await bytesUntilClosed(ts.explicitPort, from);
      assert.match(explicit.toString('latin1'), /^421 .*banned/);
      const implicit = await bytesUntilClosed(ts.implicitPort, from);
      assert.equal(implicit.length, 0, 'nothing at all, not even a TLS alert');
      assert.ok(ts.logs.some((l) => l.msg === 'connection refused: address banned'));

      await loginAndTransfer(ts, mode, LEGIT);
    });
  }

  test('unknown names ban after as many failures as wrong passwords (when a ban comes tells no names)', async () => {
    const ts = server();
    const from = '127.0.0.6';
    // The failure is scored before its 530: a connection after it sees the score.
    for (let i = 0; i < 2; i++) await failLogin(ts, 'explicit', from, `nobody${i}`);
    const third = await connectFrom(ts, 'explicit', from);
    await third.close();
    await failLogin(ts, 'explicit', from, 'nobody2');
    assert.match((await bytesUntilClosed(ts.explicitPort, from)).toString('latin1'), /^421 .*banned/);
  });
});

describe('defender: allow list', () => {
  const server = useFerry({ defender: { threshold: 2, allow: ['127.0.0.4/31'] } });

  test('an allowed network is never banned, however many failures', async () => {
    const ts = server();
    for (let i = 0; i < 4; i++) await failLogin(ts, 'explicit', '127.0.0.5', 'nobody');
    const ftp = await connectFrom(ts, 'implicit', '127.0.0.5');
    try {
      await ftp.login(ts.user, ts.password);
    } finally {
      await ftp.close();
    }
    assert.ok(!ts.logs.some((l) => l.msg === 'address banned'));
  });
});

describe('defender: failed TLS handshakes', () => {
  // 2 failed handshakes (2 points each) ban.
  const server = useFerry({ defender: { threshold: 4 } });

  /** The server's log lines of failed control handshakes from index `from`, once there are `n`. */
  async function handshakeFailures(ts: TestServer, from: number, n: number): Promise<string[]> {
    const failed = (l: { msg: string }): boolean => l.msg === 'control connection TLS handshake failed';
    await waitForLog(ts, (l) => failed(l) && ts.logs.slice(from).filter(failed).length >= n, from);
    return ts.logs
      .slice(from)
      .filter(failed)
      .map((l) => String((l.obj as { err?: string }).err));
  }

  test("a client that refuses the server's certificate (curl without --cacert: unknown_ca) is not scored; garbage is", async () => {
    const ts = server();
    const from = ts.logs.length;
    const target = (mode: Mode): string[] =>
      mode === 'implicit'
        ? [`ftps://127.0.0.1:${ts.implicitPort}/`]
        : ['--ssl-reqd', `ftp://127.0.0.1:${ts.explicitPort}/`];
    for (const mode of [...MODES, ...MODES]) {
      const r = await runProcess(CLIENT_BINARIES.curl, [
        ...['-sS', '--max-time', '20', '--interface', '127.0.0.9'],
        ...target(mode),
      ]);
      assert.equal(r.code, 60, `not the certificate refused (60; banned: 28)\n${r.command}\n${r.stderr}`);
    }
    for (const err of await handshakeFailures(ts, from, 4)) assert.match(err, /alert unknown ca/);
    assert.ok(!ts.logs.some((l) => l.msg === 'address banned'));
    const ftp = await connectFrom(ts, 'implicit', '127.0.0.9');
    try {
      await ftp.login(ts.user, ts.password);
    } finally {
      await ftp.close();
    }

    // Garbage instead of a ClientHello still counts: the second bans.
    const before = ts.logs.length;
    for (let i = 0; i < 2; i++) {
      const s = net.connect({ host: ts.host, port: ts.implicitPort, localAddress: '127.0.0.10' });
      s.on('error', () => {});
      s.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await withDeadline(once(s, 'close'), 5_000, 'the server to close the connection');
    }
    await waitForLog(
      ts,
      (l) => l.msg === 'address banned' && (l.obj as { remote?: string }).remote === '127.0.0.10',
      before,
    );
  });
});

describe('defender: connections not logged in', () => {
  const CAP = 4;
  const server = useFerry({
    limits: { maxUnauthenticatedPerAddress: CAP },
    defender: { threshold: 1000 },
  });

  test('at most N per address: the next is refused with 421 (and scored); a login frees a place; other addresses unaffected', async () => {
    const ts = server();
    await withClients(async (track) => {
      const held = await Promise.all(
        [...Array(CAP)].map(async () => track(await connectFrom(ts, 'explicit', ATTACKER))),
      );
      const refused = await bytesUntilClosed(ts.explicitPort, ATTACKER);
      assert.match(refused.toString('latin1'), /^421 Too many connections not logged in/);
      await loginAndTransfer(ts, 'explicit', LEGIT);
      // One of them logs in: no longer counted.
      await held[0]?.login(ts.user, ts.password);
      track(await connectFrom(ts, 'implicit', ATTACKER));
    });
  });

  for (const [mode, from] of [
    ['explicit', '127.0.0.7'],
    ['implicit', '127.0.0.8'],
  ] as const) {
    test(`${mode}: a session that logs out (REIN) counts as not logged in again; one over the limit gets 421 and is closed, as a new connection would`, async () => {
      const ts = server();
      await withClients(async (track) => {
        const sessions: RawFtp[] = [];
        for (let i = 0; i <= CAP; i++) {
          const ftp = track(await connectFrom(ts, mode, from));
          await ftp.login(ts.user, ts.password);
          sessions.push(ftp);
        }
        const [first, last] = [sessions[0], sessions[CAP]];
        assert.ok(first && last);
        // CAP logged-in sessions log out: CAP connections not logged in, the limit.
        for (const ftp of sessions.slice(0, CAP)) await logOut(ftp);
        // A new connection is refused: 421 on the explicit port, closed at once on the implicit one.
        const refused = (await bytesUntilClosed(portOf(ts, mode), from)).toString('latin1');
        assert.match(refused, mode === 'explicit' ? /^421 Too many connections not logged in/ : /^$/);
        const over = await last.cmd('REIN', 421);
        assert.match(textOf(over), /Too many connections not logged in from your address/);
        await withDeadline(last.closed, 5_000, 'the server to close the session');
        // One logs in again: its place is free for a new connection.
        await logInAgain(ts, mode, first);
        track(await connectFrom(ts, mode, from));
      });
    });
  }

  test('hundreds of idle connections from one address do not stop another client from logging in and transferring', async () => {
    const ts = server();
    const IDLE = 300;
    const sockets: net.Socket[] = [];
    try {
      const greeted = await Promise.all(
        [...Array(IDLE)].map(async () => {
          const s = net.connect({ host: ts.host, port: ts.explicitPort, localAddress: ATTACKER });
          s.on('error', () => {});
          sockets.push(s);
          const first = await withDeadline(
            new Promise<string>((resolve) => {
              s.once('data', (d: Buffer) => resolve(d.toString('latin1')));
              s.once('close', () => resolve(''));
            }),
            30_000,
            'a reply to an idle connection',
          );
          return first.startsWith('220');
        }),
      );
      // Only the cap is served (fewer if the previous test's connections are still counted).
      const served = greeted.filter(Boolean).length;
      assert.ok(served >= 1 && served <= CAP, `${served} served`);
      for (const mode of MODES) await loginAndTransfer(ts, mode, LEGIT);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe('sessions per address', () => {
  const server = useFerry({ limits: { maxSessionsPerAddress: 2 } });

  test('one over maxSessionsPerAddress gets a 421 that says the limit is per address; other addresses are admitted', async () => {
    const ts = server();
    await withClients(async (track) => {
      for (let i = 0; i < 2; i++) track(await connectFrom(ts, 'explicit', ATTACKER));
      const refused = (await bytesUntilClosed(ts.explicitPort, ATTACKER)).toString('latin1');
      assert.equal(refused, '421 Too many connections from your address (at most 2), try later.\r\n');
      await loginAndTransfer(ts, 'explicit', LEGIT);
    });
  });
});

describe('defender: login timeout', () => {
  const server = useFerry({ timeouts: { loginMs: 1500 } });

  for (const mode of MODES) {
    test(`${mode}: a connection that does not log in in time gets 421 and is closed, NOOPs or not`, async () => {
      const ts = server();
      const ftp = await connectFrom(ts, mode, ATTACKER);
      try {
        // Keeps talking (slowloris): NOOP resets the idle timer, never the login deadline.
        const talk = async (): Promise<Reply> => {
          let r = await ftp.cmd('NOOP', 200);
          while (r.code === 200) {
            await sleep(50); // pacing the client, not waiting for the server
            r = await ftp.cmd('NOOP');
          }
          return r;
        };
        const r = await withDeadline(talk(), 20_000, 'the login timeout');
        assert.equal(r.code, 421, textOf(r));
        assert.match(textOf(r), /Login timeout/);
        await withDeadline(ftp.closed, 5_000, 'the server to close');
      } finally {
        await ftp.close();
      }
    });
  }
});

describe('defender: passive ports are shared', () => {
  const server = useFerry({
    limits: { maxPassivePerAddress: 2, maxPassivePerUser: 3 },
    defender: { threshold: 1000 },
  });

  async function loggedInFrom(ts: TestServer, from: string): Promise<RawFtp> {
    const ftp = await connectFrom(ts, 'implicit', from);
    await ftp.login(ts.user, ts.password);
    return ftp;
  }

  test('pending passive endpoints are limited per address and per user: 425 with the reason; others still get ports', async () => {
    const ts = server();
    await withClients(async (track) => {
      const [a0, a1, a2] = await Promise.all(
        [1, 2, 3].map(async () => track(await loggedInFrom(ts, ATTACKER))),
      );
      assert.ok(a0 && a1 && a2);
      await a0.cmd('EPSV', 229);
      await a1.cmd('PASV', 227);
      const refused = await a2.cmd('EPSV', 425);
      assert.match(textOf(refused), /Too many passive connections pending from your address/);
      // Per user: a third address adds one more, the fourth is refused.
      const b = track(await loggedInFrom(ts, '127.0.0.3'));
      await b.cmd('EPSV', 229);
      const c = track(await loggedInFrom(ts, '127.0.0.4'));
      const byUser = await c.cmd('EPSV', 425);
      assert.match(textOf(byUser), /for this user/);
      // Closed, the places come back.
      const from = ts.logs.length;
      await a0.close();
      await waitForLog(ts, (l) => l.msg === 'disconnect', from);
      await c.cmd('EPSV', 229);
      assert.ok(ts.logs.some((l) => l.msg === 'passive port refused: limit'));
    });
  });
});

describe("defender: a user's passive ports held by other addresses", () => {
  const VICTIM = '127.0.0.3';
  // One scored refusal (3 points) bans.
  const server = useFerry({
    limits: { maxPassivePerAddress: 2, maxPassivePerUser: 2 },
    defender: { threshold: 3 },
  });

  test("a PASV refused for the user's limit does not score the address that met it (anyone could get a shared account's clients banned); one over the address's own limit does", async () => {
    const ts = server();
    const loggedInFrom = async (from: string): Promise<RawFtp> => {
      const ftp = await connectFrom(ts, 'implicit', from);
      await ftp.login(ts.user, ts.password);
      return ftp;
    };
    const bannedLine = (from: string) => (l: { msg: string; obj: object }) =>
      l.msg === 'address banned' && (l.obj as { remote?: string }).remote === from;
    await withClients(async (track) => {
      for (let i = 0; i < 2; i++) await track(await loggedInFrom(ATTACKER)).cmd('EPSV', 229);
      const victim = track(await loggedInFrom(VICTIM));
      for (let i = 0; i < 3; i++) assert.match(textOf(await victim.cmd('EPSV', 425)), /for this user/);
      // Not banned: its next connection is greeted (a ban: 421) and logs in.
      track(await loggedInFrom(VICTIM));
      const over = track(await loggedInFrom(ATTACKER));
      assert.match(textOf(await over.cmd('EPSV', 425)), /from your address/);
      await waitForLog(ts, bannedLine(ATTACKER));
      assert.ok(!ts.logs.some(bannedLine(VICTIM)));
    });
  });
});

describe('defender: IPv6 clients count by their /64', () => {
  // Clients through the proxy (viaProxy). One unknown user and one failed login (1 point each) ban.
  const server = useFerry({
    proxyProtocol: { trusted: ['127.0.0.1/32'], required: true },
    limits: { maxUnauthenticatedPerAddress: 2, maxPassivePerAddress: 1 },
    defender: { threshold: 2 },
  });

  test('failures from ever new addresses of one /64 ban the /64 (listed as such); another /64 is let in', async () => {
    const ts = server();
    await withClients(async (track) => {
      for (const [from, user] of [
        ['2001:db8:1::a', 'nobody'],
        ['2001:db8:1::b', ts.user],
      ] as const) {
        const { ftp, first } = await viaProxy(ts, from);
        track(ftp);
        assert.equal(first.code, 220);
        await wrongPassword(ftp, user);
      }
      await waitForLog(
        ts,
        (l) => l.msg === 'address banned' && (l.obj as { remote?: string }).remote === '2001:db8:1::/64',
      );
      const fresh = await viaProxy(ts, '2001:db8:1::c');
      track(fresh.ftp);
      assert.match(textOf(fresh.first), /banned/);
      const other = await viaProxy(ts, '2001:db8:2::a');
      track(other.ftp);
      assert.equal(other.first.code, 220);
    });
  });

  test('connections not logged in are counted per /64', async () => {
    const ts = server();
    await withClients(async (track) => {
      for (const from of ['2001:db8:3::1', '2001:db8:3::2']) {
        const { ftp, first } = await viaProxy(ts, from);
        track(ftp);
        assert.equal(first.code, 220);
      }
      const third = await viaProxy(ts, '2001:db8:3::3');
      track(third.ftp);
      assert.match(textOf(third.first), /Too many connections not logged in/);
      const other = await viaProxy(ts, '2001:db8:4::1');
      track(other.ftp);
      assert.equal(other.first.code, 220);
    });
  });
  test('pending passive ports are counted per /64', async () => {
    const ts = server();
    await withClients(async (track) => {
      const session = async (from: string): Promise<RawFtp> => {
        const { ftp, first } = await viaProxy(ts, from);
        track(ftp);
        assert.equal(first.code, 220);
        await ftp.authTls('TLS');
        await ftp.login(ts.user, ts.password);
        return ftp;
      };
      await (await session('2001:db8:5::1')).cmd('EPSV', 229);
      const again = await (await session('2001:db8:5::2')).cmd('EPSV', 425);
      assert.match(textOf(again), /from your address/);
      await (await session('2001:db8:6::1')).cmd('EPSV', 229);
    });
  });
});

describe('defender off: an IPv6 address on allow still counts alone against the per-address limits', () => {
  const server = useFerry({
    proxyProtocol: { trusted: ['127.0.0.1/32'], required: true },
    limits: { maxUnauthenticatedPerAddress: 1 },
    defender: { enabled: false, allow: ['2001:db8:7::a/128'] },
  });

  test('the rest of its /64 fills the /64 place, not its own', async () => {
    const ts = server();
    await withClients(async (track) => {
      const first = await viaProxy(ts, '2001:db8:7::1');
      track(first.ftp);
      assert.equal(first.first.code, 220);
      const neighbour = await viaProxy(ts, '2001:db8:7::2');
      track(neighbour.ftp);
      assert.match(textOf(neighbour.first), /Too many connections not logged in/);
      const allowed = await viaProxy(ts, '2001:db8:7::a');
      track(allowed.ftp);
      assert.equal(allowed.first.code, 220, textOf(allowed.first));
    });
  });
});

describe('defender: connections reset before they are accepted', () => {
  // Two such connections counted as one address "" would be over the limit, and one refusal bans.
  const server = useFerry({ limits: { maxUnauthenticatedPerAddress: 1 }, defender: { threshold: 3 } });

  test('are dropped unlogged: never counted, scored or banned as the address ""', async () => {
    const ts = server();
    // This process (the server's) is held while a child connects and resets (RST) 4 times: the
    // connections wait in the listen queue, reset, and are accepted with no peer address to read.
    const resets = `const net = require('net');
      for (let i = 0; i < 4; i++) { const s = net.connect(${ts.explicitPort}, '${ts.host}', () => s.resetAndDestroy()); }`;
    const child = spawnSync(process.execPath, ['-e', resets], { timeout: 10_000 });
    assert.equal(child.status, 0, String(child.stderr));
    // Accepted in order: those were handled before this one is greeted.
    await loginAndTransfer(ts, 'explicit', LEGIT);
    const blank = ts.logs.filter((l) => (l.obj as { remote?: string }).remote === '');
    assert.deepEqual(blank, []);
    assert.ok(!ts.logs.some((l) => l.msg === 'address banned'));
  });
});

describe('defender: password checks are shared fairly', () => {
  const ATTACKERS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  const PER_ADDRESS = 8;
  // Scores off the table here: this is about the queue, not the bans.
  const server = useFerry({ defender: { threshold: 100_000 } });

  test('during a flood of wrong passwords from several addresses, a login from another address is served before most of them', async (t) => {
    const ts = server();
    await withClients(async (track) => {
      const attackers = await Promise.all(
        ATTACKERS.flatMap((from) =>
          [...Array(PER_ADDRESS)].map(async () => {
            // Their replies come as the queue drains (two checks at a time): a long deadline.
            const ftp = track(await connectFrom(ts, 'implicit', from, 120_000));
            await ftp.cmd('USER alice', 331);
            return ftp;
          }),
        ),
      );
      const legit = track(await connectFrom(ts, 'implicit', LEGIT));
      await legit.cmd(`USER ${ts.user}`, 331);
      let attackersDone = 0;
      const flood = attackers.map((ftp) => ftp.cmd('PASS wrong', 530).then(() => attackersDone++));
      const started = performance.now();
      await legit.cmd(`PASS ${ts.password}`, 230);
      const latency = performance.now() - started;
      const doneBeforeLegit = attackersDone;
      await Promise.all(flood);
      t.diagnostic(
        `legit login: ${latency.toFixed(0)} ms; ${doneBeforeLegit} of ${attackers.length} attacker replies before it`,
      );
      assert.ok(
        doneBeforeLegit < attackers.length / 4,
        `the legit login waited behind ${doneBeforeLegit} of ${attackers.length} attacker checks`,
      );
    });
  });
});
