// PassivePorts keeps a port whose transfers are done listening for a while and hands it out again,
// unless another cluster worker needs the ports (yieldIdle).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { OUT_OF_DESCRIPTORS } from './descriptors.js';
import { portPrivileges } from './default-ports.js';
import { PassiveBusyError, PassivePorts } from './passive-ports.js';

const owner = { address: '127.0.0.1', user: 'u' };
const wait = { ms: 1_000 };

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A listener on a free port of 127.0.0.1, as another process (a cluster worker) holds one. */
async function heldElsewhere(): Promise<{ port: number; free: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) =>
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve),
  );
  const { port } = server.address() as net.AddressInfo;
  return { port, free: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** `p`, or a rejection saying `what` did not happen within 10 s (far less than the waits the tests set). */
async function soon<T>(p: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} 10 s after the port was freed`)), 10_000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A logger that keeps the messages, and resolves `said(msg, n)` once `n` of them are logged. */
function recorder(): { logger: Logger; said: (msg: string, n?: number) => Promise<void> } {
  const lines: string[] = [];
  const heard = new Set<() => void>();
  const log = (_obj: object, msg = ''): void => {
    lines.push(msg);
    for (const h of [...heard]) h();
  };
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  const said = (msg: string, n = 1): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (lines.filter((l) => l === msg).length < n) return;
        heard.delete(check);
        resolve();
      };
      heard.add(check);
      check();
    });
  return { logger, said };
}

describe('PassivePorts', () => {
  it('a port released after its connection keeps listening and is the next one handed out; close() stops idle ports at once', async () => {
    const ports = new PassivePorts(0, 0);
    const first = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    first.release(true);
    const second = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    assert.equal(second.port, first.port, 'the idle listener was reused');
    second.release(true);
    assert.equal(await listening(second.port), true, 'still listening with nothing pending');
    ports.close();
    assert.equal(await listening(second.port), false, 'idle port closed by close()');
    const third = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    third.release(); // expired or aborted: closes at once
    assert.equal(await listening(third.port), false);
  });

  it('a port with a transfer pending at close() serves it, then stops listening', async () => {
    const ports = new PassivePorts(0, 0);
    let got: net.Socket | undefined;
    const r = await ports.reserve('127.0.0.1', owner, (raw) => (got = raw), wait);
    ports.close();
    const client = net.connect({ host: '127.0.0.1', port: r.port });
    await new Promise((resolve) => client.once('connect', resolve));
    while (!got) await new Promise(setImmediate);
    got.destroy();
    client.destroy();
    r.release();
    assert.equal(await listening(r.port), false);
  });

  it('a port that cannot listen for another reason than being taken fails the request at once, logged', async () => {
    const lines: string[] = [];
    const log = (_obj: object, msg = ''): void => void lines.push(msg);
    const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
    // 192.0.2.1 (TEST-NET-1) is no address of this host: EADDRNOTAVAIL on every port of the range.
    const ports = new PassivePorts(51700, 51709, undefined, { logger });
    await assert.rejects(
      ports.reserve('192.0.2.1', owner, (raw) => raw.destroy(), { ms: 3_000 }),
      {
        code: 'ERR_DATA_CONNECTION',
        message: /EADDRNOTAVAIL/,
      },
    );
    assert.deepEqual(lines, ['passive port: cannot listen']);
  });

  it('out of file descriptors, a request fails at once (not after walking the range and waiting) and says so', async () => {
    // A process at its open-files limit: Node cannot lower its own, so a child runs under prlimit.
    const script = `
      import fs from 'node:fs';
      const { PassivePorts } = await import(${JSON.stringify(new URL('./passive-ports.js', import.meta.url).href)});
      const lines = [];
      const log = (_obj, msg) => lines.push(msg);
      const logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
      const ports = new PassivePorts(51710, 51719, undefined, { logger });
      const filler = [];
      try { for (;;) filler.push(fs.openSync('/dev/null', 'r')); } catch {}
      const owner = { address: '127.0.0.1', user: 'u' };
      const result = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), { ms: 3_000 }).then(
        () => 'reserved',
        (err) => err.code + ': ' + err.message,
      );
      for (const fd of filler) fs.closeSync(fd);
      console.log(JSON.stringify({ result, lines }));
    `;
    const { stdout } = await promisify(execFile)('prlimit', [
      '--nofile=128:128',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ]);
    const { result, lines } = JSON.parse(stdout) as { result: string; lines: string[] };
    assert.match(result, /^ERR_DATA_CONNECTION: .*EMFILE/);
    assert.deepEqual(lines, [OUT_OF_DESCRIPTORS]);
  });

  it('a request waiting while another process holds every port gets one soon after it is freed, not at its deadline', async () => {
    // Another process's release wakes nobody here (cluster workers share a range): the request
    // tries again on a short backoff. Before, it slept until its deadline (30 s by default).
    const other = await heldElsewhere();
    const { logger, said } = recorder();
    const ports = new PassivePorts(other.port, other.port, undefined, { logger });
    const stop = new AbortController();
    const reserved = ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), {
      ms: 120_000,
      signal: stop.signal,
    });
    try {
      await said('passive port: none free, waiting');
      await other.free();
      const r = await soon(reserved, () => 'no port');
      assert.equal(r.port, other.port);
      r.release();
    } finally {
      stop.abort(); // without the fix: ends the wait instead of leaving it to its deadline
      await reserved.catch(() => {});
      ports.close();
    }
  });

  it('yieldIdle() closes the ports kept idle at once, and for a while a port whose transfer is done closes instead of being kept', async () => {
    const ports = new PassivePorts(0, 0);
    const first = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    first.release(true);
    assert.equal(await listening(first.port), true, 'kept listening with nothing pending');
    ports.yieldIdle();
    assert.equal(await listening(first.port), false, 'the idle port given up');
    const second = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    assert.notEqual(second.port, first.port, 'no idle port was left to hand out');
    second.release(true);
    assert.equal(await listening(second.port), false, 'not kept while yielding');
    ports.close();
  });

  it('a port given up by yieldIdle() is left to the other workers: a request here does not bind it again at once', async () => {
    // The waiting worker looks every 250 ms; a worker under load would otherwise take the port back
    // for its next transfer first, again and again.
    const probe = await heldElsewhere();
    await probe.free();
    const { logger, said } = recorder();
    const ports = new PassivePorts(probe.port, probe.port, undefined, { logger });
    const done = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    done.release(true);
    // A waiting worker that looks every 5 s: the port is left to it for 10 s (a slow machine's
    // pause before this request's first look is far shorter).
    ports.yieldIdle(5_000);
    const stop = new AbortController();
    const reserved = ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), {
      ms: 120_000,
      signal: stop.signal,
    });
    try {
      // The only port of the range, free, and not taken: left for the other worker.
      await said('passive port: none free, waiting');
    } finally {
      stop.abort();
      // Taken back once the other worker has not (it might be, on a slow machine).
      const r = await reserved.catch(() => undefined);
      r?.release();
      ports.close();
    }
  });

  it('a request meeting only ports this worker left to the others does not report starving', async () => {
    // Its report would make the other workers yield in turn: two loaded workers would trade ports.
    const probe = await heldElsewhere();
    await probe.free();
    let starved = 0;
    const { logger, said } = recorder();
    const ports = new PassivePorts(probe.port, probe.port, undefined, {
      logger,
      starving: () => void starved++,
    });
    const done = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    done.release(true);
    ports.yieldIdle(5_000);
    const stop = new AbortController();
    const reserved = ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), {
      ms: 120_000,
      signal: stop.signal,
    });
    try {
      await said('passive port: none free, waiting');
      assert.equal(starved, 0);
    } finally {
      stop.abort();
      const r = await reserved.catch(() => undefined);
      r?.release();
      ports.close();
    }
  });

  it('a request waiting on a port another worker keeps idle says so (starving), and gets it once that worker yields', async () => {
    // Two PassivePorts over one port, as two cluster workers: `kept`'s worker keeps it idle after
    // a transfer; the other's request meets EADDRINUSE and reports it, relayed as yieldIdle().
    const probe = await heldElsewhere();
    await probe.free();
    const kept = new PassivePorts(probe.port, probe.port);
    const done = await kept.reserve('127.0.0.1', owner, (raw) => raw.destroy(), wait);
    done.release(true);
    let starved = 0;
    const starving = (): void => {
      starved++;
      kept.yieldIdle();
    };
    const { logger, said } = recorder();
    const ports = new PassivePorts(probe.port, probe.port, undefined, { logger, starving });
    const stop = new AbortController();
    const reserved = ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), {
      ms: 120_000,
      signal: stop.signal,
    });
    try {
      await said('passive port: none free, waiting');
      assert.equal(starved, 1, 'reported at its first look');
      const r = await soon(reserved, () => 'no port');
      assert.equal(r.port, probe.port);
      r.release();
    } finally {
      stop.abort();
      await reserved.catch(() => {});
      ports.close();
      kept.close();
    }
  });

  it('a request that waited in vain says where the ports were: held by another process', async () => {
    const other = await heldElsewhere();
    const ports = new PassivePorts(other.port, other.port);
    try {
      await assert.rejects(
        ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), { ms: 300 }),
        (err: unknown) => {
          assert.ok(err instanceof PassiveBusyError);
          assert.equal(err.code, 'ERR_DATA_CONNECTION');
          const range = `${other.port}-${other.port}`;
          const busy = {
            range,
            rangeSize: 1,
            pendingFromAddress: 0,
            heldHere: 0,
            heldElsewhere: 1,
            denied: 0,
          };
          assert.deepEqual(err.busy, busy);
          return true;
        },
      );
    } finally {
      await other.free();
    }
  });

  it('requests waiting on a port held elsewhere look again in turn: once it is freed, each address that may share it gets it', async () => {
    const other = await heldElsewhere();
    const { logger, said } = recorder();
    const ports = new PassivePorts(other.port, other.port, undefined, { logger });
    const stop = new AbortController();
    // Two addresses may share the port; the third request, A's again, must wait for A's to end.
    const owners = ['127.0.0.1', '127.0.0.2', '127.0.0.1'].map((address) => ({ address, user: undefined }));
    const requests = owners.map((o) =>
      ports.reserve('127.0.0.1', o, (raw) => raw.destroy(), { ms: 120_000, signal: stop.signal }),
    );
    let taken = 0;
    let bothTaken!: () => void;
    const both = new Promise<void>((resolve) => (bothTaken = resolve));
    const outcomes = requests.map((r) =>
      r.then(
        (x) => {
          if (++taken === 2) bothTaken();
          return x;
        },
        () => undefined,
      ),
    );
    const got = Promise.all(outcomes);
    try {
      await said('passive port: none free, waiting', 3);
      await other.free();
      await soon(both, () => `${taken} of 2 requests served`);
    } finally {
      stop.abort();
      (await got).forEach((r) => r?.release());
      ports.close();
    }
    assert.deepEqual(
      (await got).map((r) => r?.port),
      [other.port, other.port, undefined],
      "both addresses on the freed port, A's second request still waiting",
    );
  });

  it('ports this process may not bind (privileged, under a run-as user) are counted apart and not looked at again', async (t) => {
    // Ports below net.ipv4.ip_unprivileged_port_start: EACCES for a process without
    // CAP_NET_BIND_SERVICE. Root (as in CI) runs the child without it.
    const { unprivilegedPortStart: start, netBindService } = portPrivileges();
    const root = process.getuid?.() === 0;
    if (start < 2) return t.skip('no privileged ports here (net.ipv4.ip_unprivileged_port_start)');
    if (netBindService && !root) return t.skip('this process may bind privileged ports and cannot drop that');
    const [min, max] = [start - 2, start - 1];
    const script = `
      import net from 'node:net';
      const { PassivePorts } = await import(${JSON.stringify(new URL('./passive-ports.js', import.meta.url).href)});
      let binds = 0;
      const listen = net.Server.prototype.listen;
      net.Server.prototype.listen = function (...args) { binds++; return listen.apply(this, args); };
      const ports = new PassivePorts(${min}, ${max});
      const owner = { address: '127.0.0.1', user: 'u' };
      const result = await ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), { ms: 2_000 }).then(
        () => 'reserved',
        (err) => ({ code: err.code, busy: err.busy }),
      );
      console.log(JSON.stringify({ result, binds }));
    `;
    const noBindService = root ? ['setpriv', '--bounding-set=-net_bind_service'] : [];
    const [file = process.execPath, ...args] = [...noBindService, process.execPath];
    const { stdout } = await promisify(execFile)(file, [...args, '--input-type=module', '-e', script]);
    const { result, binds } = JSON.parse(stdout) as { result: unknown; binds: number };
    assert.deepEqual(result, {
      code: 'ERR_DATA_CONNECTION',
      busy: {
        range: `${min}-${max}`,
        rangeSize: 2,
        pendingFromAddress: 0,
        heldHere: 0,
        heldElsewhere: 0,
        denied: 2,
      },
    });
    // One look at the request, one at its deadline (each a bind per port); looking again every
    // 250 ms would have made some 16 binds in these 2 s.
    assert.ok(binds <= 6, `${binds} binds: the request looked again at ports it may never bind`);
  });
});
