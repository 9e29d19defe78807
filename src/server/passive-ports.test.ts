// PassivePorts keeps a port whose transfers are done listening for a while and hands it out again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { OUT_OF_DESCRIPTORS } from './descriptors.js';
import { PassivePorts } from './passive-ports.js';

const owner = { address: '127.0.0.1', user: 'u' };
const wait = { ms: 1_000 };

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
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
});
