import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { unacknowledged } from './send-queue.js';

// Real sockets: a peer that does not read leaves what is written unacknowledged past its window, and
// that is what /proc/net/tcp{,6} shows for the writer's addresses (IPv4, IPv6, IPv4-mapped).
const cases = [
  { listen: '127.0.0.1', connect: '127.0.0.1' },
  { listen: '::1', connect: '::1' },
  // A dual-stack listener: its side of the connection has ::ffff:127.0.0.1 addresses.
  { listen: '::', connect: '127.0.0.1' },
];

for (const c of cases) {
  test(
    `unacknowledged(): bytes a peer does not read, listening on ${c.listen}`,
    { skip: process.platform !== 'linux' },
    async (t) => {
      const server = net.createServer();
      try {
        server.listen(0, c.listen);
        await once(server, 'listening');
      } catch {
        return t.skip(`no ${c.listen} here`);
      }
      t.after(() => server.close());
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const reader = net.connect((server.address() as net.AddressInfo).port, c.connect);
      reader.pause();
      t.after(() => reader.destroy());
      const [writer] = await accepted;
      t.after(() => writer.destroy());
      assert.equal(await unacknowledged(writer), 0, 'nothing written yet');
      // Until Node queues what the kernel would not take: the kernel's send queue is full then.
      const chunk = Buffer.alloc(1024 * 1024);
      while (writer.write(chunk));
      const left = await unacknowledged(writer);
      assert.ok(left !== undefined && left > 0, `${writer.localAddress}: ${left} bytes unacknowledged`);
    },
  );
}

test('unacknowledged(): a closed socket is not listed', async () => {
  const sock = new net.Socket();
  assert.equal(await unacknowledged(sock), undefined);
});
