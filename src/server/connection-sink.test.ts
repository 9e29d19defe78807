// connectionSink: chunks go to the destination, each handed back once written; its failures fail the
// pipeline; its own end (an abort) leaves the destination to the transfer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connectionSink } from './connection-sink.js';

describe('connectionSink', () => {
  it('writes every chunk, hands each back after its write, and ends the destination', async () => {
    const written: Buffer[] = [];
    const order: string[] = [];
    const dst = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _e, cb) {
        written.push(Buffer.from(chunk));
        order.push(`write ${chunk[0]}`);
        setImmediate(cb);
      },
    });
    const chunks = [Buffer.from([1, 1]), Buffer.from([2]), Buffer.from([3, 3, 3])];
    await pipeline(
      Readable.from(chunks, { objectMode: false }),
      connectionSink(dst, (c) => order.push(`back ${c[0]}`)),
    );
    assert.deepEqual(Buffer.concat(written), Buffer.concat(chunks));
    assert.deepEqual(order, ['write 1', 'back 1', 'write 2', 'back 2', 'write 3', 'back 3']);
    assert.ok(dst.writableFinished);
  });

  it('a destination that fails or closes first fails the pipeline; an abort leaves the destination whole', async () => {
    const failing = new Writable({ write: (_c, _e, cb) => cb(new Error('reset')) });
    await assert.rejects(
      pipeline(
        Readable.from([Buffer.from('x')]),
        connectionSink(failing, () => {}),
      ),
      /reset/,
    );
    const closing = new PassThrough();
    const source = new PassThrough();
    const done = pipeline(
      source,
      connectionSink(closing, () => {}),
    );
    source.write('a');
    closing.destroy();
    await assert.rejects(done);
    const dst = new PassThrough();
    const ac = new AbortController();
    const aborted = pipeline(
      new PassThrough(),
      connectionSink(dst, () => {}),
      { signal: ac.signal },
    );
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    // Ended by the transfer once its 426 is out, not by the pipeline before it.
    assert.equal(dst.destroyed, false);
  });

  it(
    'a socket its peer ended before the first write fails the pipeline (it hung: a download abandoned early)',
    { timeout: 10_000 },
    async () => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      const client = net.connect(port, '127.0.0.1');
      try {
        const [sock] = (await once(server, 'connection')) as [net.Socket];
        client.end(); // the peer's FIN: Node ends our side too, and a write after it only errs its callback
        await once(sock, 'close');
        await assert.rejects(
          pipeline(
            Readable.from([Buffer.from('x')]),
            connectionSink(sock, () => {}),
          ),
          /ended by the other party/,
        );
      } finally {
        client.destroy();
        server.close();
      }
    },
  );
});
