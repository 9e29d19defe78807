import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { mock, test } from 'node:test';
import { endDropping } from './graceful-end.js';
import { LingeringData } from './lingering-data.js';

/**
 * `n` real connections over loopback: the accepted ends, and the clients' to close afterwards.
 * `allowHalfOpen`: clients that go on sending after the server's FIN.
 */
async function accepted(
  n: number,
  allowHalfOpen = false,
): Promise<{ ends: net.Socket[]; clients: net.Socket[]; close: () => void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const ends: net.Socket[] = [];
  const clients: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const got = once(listener, 'connection') as Promise<[net.Socket]>;
    clients.push(net.connect({ host: '127.0.0.1', port, allowHalfOpen }).on('error', () => {}));
    ends.push((await got)[0]);
  }
  listener.close();
  return { ends, clients, close: () => clients.forEach((c) => c.destroy()) };
}

test('one per session: a newer connection cuts the older', async () => {
  const {
    ends: [a, b],
    close,
  } = await accepted(2);
  const held = new LingeringData();
  const session = {};
  held.keep(session, a!);
  held.keep(session, b!);
  assert.equal(a!.destroyed, true);
  assert.equal(b!.destroyed, false);
  assert.equal(held.size, 1);
  held.endSession(session);
  assert.equal(b!.destroyed, true);
  assert.equal(held.size, 0);
  close();
});

test('many sessions of one address each keep theirs (48 curl uploads refused at once)', async () => {
  const { ends, close } = await accepted(48);
  const held = new LingeringData();
  for (const end of ends) held.keep({}, end);
  assert.equal(held.size, 48);
  assert.ok(
    ends.every((e) => !e.destroyed),
    'none cut before its client has read its reply',
  );
  held.close();
  assert.ok(ends.every((e) => e.destroyed));
  assert.equal(held.size, 0);
  close();
});

test("a refused transfer's unused connection waits for its client, however late it reads its reply", async () => {
  const {
    ends: [end],
    clients: [peer],
    close,
  } = await accepted(1);
  assert.ok(end && peer);
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const held = new LingeringData();
    held.keep({}, end); // UNUSED: what a refusal before the 150 leaves
    mock.timers.tick(10 * 60_000);
    assert.equal(end.destroyed, false, 'not cut by the clock (it was after 1 s: curl saw a reset)');
    const gone = once(end, 'close');
    peer.end(); // the client read its reply and closes
    await gone;
    assert.equal(held.size, 0);
  } finally {
    mock.timers.reset();
    close();
  }
});

test('a deadline, not an idle timeout: a client trickling bytes is cut on time', async () => {
  const {
    ends: [end],
    clients: [peer],
    close,
  } = await accepted(1, true);
  assert.ok(end && peer);
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const held = new LingeringData();
    held.keep({}, end, { ms: 5_000, leave: endDropping });
    for (let i = 0; i < 4; i++) {
      // Read by the server (and dropped) before the clock moves: each read once reset the timer.
      const read = once(end, 'data');
      peer.write('x');
      await read;
      mock.timers.tick(1_000);
    }
    assert.equal(end.destroyed, false);
    mock.timers.tick(1_000);
    assert.equal(end.destroyed, true);
    assert.equal(held.size, 0);
  } finally {
    mock.timers.reset();
    close();
  }
});
