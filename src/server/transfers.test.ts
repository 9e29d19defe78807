import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { FerryError, StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Reply } from '../protocol/reply.js';
import type { DataEndpoint, DataSocket, Direction } from './data-connection.js';
import { LINGER_MS } from './graceful-end.js';
import { Transfers } from './transfers.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

function socket(): DataSocket & { destroyed: boolean; closed: boolean } {
  return {
    stream: new PassThrough(),
    secure: true,
    destroyed: false,
    closed: false,
    close() {
      this.closed = true;
    },
    destroy() {
      this.destroyed = true;
    },
  };
}

/** An endpoint whose open() the test settles; records close(). */
function endpoint(
  open: (signal: AbortSignal, direction: Direction) => Promise<DataSocket>,
): DataEndpoint & { closed: number } {
  return {
    closed: 0,
    open,
    started: () => Promise.resolve(),
    close() {
      this.closed++;
    },
  };
}

function setup(): { transfers: Transfers; written: Reply[] } {
  const written: Reply[] = [];
  return { transfers: new Transfers({ preliminary: (r) => written.push(r), logger: quiet }), written };
}

describe('Transfers', () => {
  test('without an endpoint: 425 at once, no 150', async () => {
    const { transfers, written } = setup();
    const r = await transfers.run(undefined, 'RETR', 'Opening', async () => undefined);
    assert.equal(r.code, 425);
    assert.deepEqual(written, []);
  });

  test('the direction follows the command: RETR and listings send, the rest receive', async () => {
    const { transfers } = setup();
    const seen: string[] = [];
    for (const verb of ['RETR', 'LIST', 'STOR', 'APPE']) {
      const ep = endpoint(async (_signal, direction) => {
        seen.push(`${verb}:${direction}`);
        return socket();
      });
      await transfers.run(ep, verb, 'x', async () => undefined);
    }
    assert.deepEqual(seen, ['RETR:send', 'LIST:send', 'STOR:receive', 'APPE:receive']);
  });

  test('150 before the data connection opens, 226 after the work, the endpoint closed', async () => {
    const { transfers, written } = setup();
    const sock = socket();
    const order: string[] = [];
    const ep = endpoint(async () => {
      order.push(`open after ${written.map((r) => r.code).join(',')}`);
      return sock;
    });
    const r = await transfers.run(ep, 'RETR', 'Opening BINARY mode', async (_s, t) => {
      assert.equal(transfers.active?.command, 'RETR');
      t.count(10);
      t.count(5);
      assert.equal(transfers.active?.bytes, 15);
      order.push('work');
    });
    assert.deepEqual(order, ['open after 150', 'work']);
    assert.equal(written[0]?.lines[0], 'Opening BINARY mode');
    assert.equal(r.code, 226);
    assert.equal(ep.closed, 1);
    assert.equal(transfers.active, undefined);
    assert.equal(sock.destroyed, false);
  });

  test('a data connection that fails to open: its error decides (425, or 522 with the TLS reason)', async () => {
    const { transfers } = setup();
    const r425 = await transfers.run(
      endpoint(() => Promise.reject(new FerryError('ERR_DATA_CONNECTION', 'no'))),
      'RETR',
      'x',
      async () => assert.fail('no work without a connection'),
    );
    assert.equal(r425.code, 425);
    const r522 = await transfers.run(
      endpoint(() =>
        Promise.reject(new FerryError('ERR_TLS', 'Data connection must resume the TLS session.')),
      ),
      'STOR',
      'x',
      async () => undefined,
    );
    assert.equal(r522.code, 522);
    assert.match(r522.lines[0] ?? '', /resume/);
  });

  test('ABOR: the work is aborted, 426 is returned, and done waits until that reply is written', async () => {
    const { transfers } = setup();
    const sock = socket();
    let started!: () => void;
    const working = new Promise<void>((resolve) => (started = resolve));
    const run = transfers.run(
      endpoint(async () => sock),
      'RETR',
      'x',
      (_s, t) => {
        started();
        return new Promise<void>((_resolve, reject) =>
          t.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      },
    );
    await working;
    const active = transfers.active;
    assert.ok(active);
    let doneSeen = false;
    void active.done.then(() => (doneSeen = true));
    active.abort();
    const r = await run;
    assert.equal(r.code, 426);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(doneSeen, false, 'done before the 426 was written');
    assert.equal(sock.destroyed, false, 'the data connection ended before the 426 was written');
    transfers.replied()?.();
    // A download's, without close_notify: it would say the bytes sent are the whole file.
    assert.deepEqual([sock.destroyed, sock.closed], [true, false]);
    await active.done;
  });

  test('an abort while the data connection is still opening gives 426', async () => {
    const { transfers } = setup();
    const ep = endpoint(
      (signal) =>
        new Promise<DataSocket>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(new FerryError('ERR_DATA_CONNECTION', 'gone'))),
        ),
    );
    const run = transfers.run(ep, 'LIST', 'x', async () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    transfers.abort(); // as on disconnect
    assert.equal((await run).code, 426);
    assert.equal(ep.closed, 0, 'the endpoint closed before the 426 was written');
    transfers.replied()?.();
    assert.equal(ep.closed, 1);
  });

  test('a command refused before its 150: its endpoint closes once the refusal is written', () => {
    const { transfers } = setup();
    const ep = endpoint(() => new Promise<DataSocket>(() => {}));
    transfers.refused(ep);
    assert.equal(ep.closed, 0);
    transfers.replied()?.();
    assert.equal(ep.closed, 1);
  });

  test('a reply that ends nothing asks for no callback (no listener on the control socket per reply)', () => {
    const { transfers } = setup();
    assert.equal(transfers.replied(), undefined);
  });

  test('a refused endpoint closes after LINGER_MS even when its reply is never handed to TCP', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { transfers } = setup();
    const ep = endpoint(() => new Promise<DataSocket>(() => {}));
    transfers.refused(ep);
    const end = transfers.replied(); // a client not reading its replies: never called
    assert.ok(end);
    t.mock.timers.tick(LINGER_MS - 1);
    assert.equal(ep.closed, 0);
    t.mock.timers.tick(1);
    assert.equal(ep.closed, 1);
    end(); // the reply left at last: nothing twice
    assert.equal(ep.closed, 1);
  });

  test('storage errors keep their reply; a broken stream is 426', async () => {
    const { transfers } = setup();
    const full = await transfers.run(
      endpoint(async () => socket()),
      'STOR',
      'x',
      async () => {
        throw new FerryError('ERR_QUOTA_EXCEEDED', 'full');
      },
    );
    assert.equal(full.code, 552);
    const sock = socket();
    const broken = await transfers.run(
      endpoint(async () => sock),
      'RETR',
      'x',
      async () => {
        throw new Error('ECONNRESET');
      },
    );
    assert.equal(broken.code, 426);
    transfers.replied()?.();
    assert.equal(sock.destroyed, true); // a download's: gone already, or cut without close_notify
  });

  test('an upload cut while storage ignores it: 426, and storage finds its signal aborted', async () => {
    const { transfers } = setup();
    let storageSignal: AbortSignal | undefined;
    const r = await transfers.run(
      endpoint(async () => socket()),
      'STOR',
      'x',
      (sock, t) => {
        storageSignal = t.signal;
        sock.stream.destroy(); // the connection cut before the client ended the upload
        return new Promise<void>(() => {}); // a frozen storage, which would commit when it wakes
      },
    );
    assert.equal(r.code, 426);
    assert.equal(storageSignal?.aborted, true);
  });

  test('the idle timeout found storage holding the transfer up: 451, storage told to stop', async () => {
    const { transfers } = setup();
    const stalled = new AbortController();
    const sock: DataSocket = {
      ...socket(),
      idle: { heldByServer: () => true, storageStalled: stalled.signal, stop: () => undefined },
    };
    const r = await transfers.run(
      endpoint(async () => sock),
      'STOR',
      'x',
      (_sock, t) =>
        new Promise<void>((_resolve, reject) => {
          t.signal.addEventListener('abort', () => reject(new FerryError('ERR_ABORTED', 'aborted')));
          stalled.abort(new StorageError('unavailable', 'storage took or gave no bytes for 1 s'));
        }),
    );
    assert.equal(r.code, 451);
    assert.match(r.lines.join('\n'), /Storage temporarily unavailable/);
  });
});
