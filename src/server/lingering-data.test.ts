import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { LingeringData, UNUSED_LINGER_PER_ADDRESS } from './lingering-data.js';

/** `n` real connections over loopback: the accepted ends, and the clients' to close afterwards. */
async function accepted(n: number): Promise<{ ends: net.Socket[]; close: () => void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const ends: net.Socket[] = [];
  const clients: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const got = once(listener, 'connection') as Promise<[net.Socket]>;
    clients.push(net.connect({ host: '127.0.0.1', port }).on('error', () => {}));
    ends.push((await got)[0]);
  }
  listener.close();
  return { ends, close: () => clients.forEach((c) => c.destroy()) };
}

test('one per session: a newer connection cuts the older', async () => {
  const {
    ends: [a, b],
    close,
  } = await accepted(2);
  const held = new LingeringData();
  const session = {};
  held.keep(session, '127.0.0.1', a!);
  held.keep(session, '127.0.0.1', b!);
  assert.equal(a!.destroyed, true);
  assert.equal(b!.destroyed, false);
  assert.equal(held.size, 1);
  held.endSession(session);
  assert.equal(b!.destroyed, true);
  assert.equal(held.size, 0);
  close();
});

test('past the per-address count, a connection is cut at once', async () => {
  const { ends, close } = await accepted(UNUSED_LINGER_PER_ADDRESS + 1);
  const held = new LingeringData();
  for (const end of ends) held.keep({}, '127.0.0.1', end);
  assert.equal(held.size, UNUSED_LINGER_PER_ADDRESS);
  assert.deepEqual(
    ends.map((e) => e.destroyed),
    [...Array<boolean>(UNUSED_LINGER_PER_ADDRESS).fill(false), true],
  );
  held.close();
  assert.ok(ends.every((e) => e.destroyed));
  assert.equal(held.size, 0);
  close();
});
