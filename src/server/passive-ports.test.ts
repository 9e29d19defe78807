// PassivePorts keeps a port whose transfers are done listening for a while and hands it out again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
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
});
