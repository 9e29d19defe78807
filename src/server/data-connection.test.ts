import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, mock, test } from 'node:test';
import tls from 'node:tls';
import { FerryError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { generateSelfSigned, type KeyPair } from '../tls/certificates.js';
import { SessionFamily } from '../tls/session-cache.js';
import { ActiveEndpoint, PassiveEndpoint, type DataPolicy } from './data-connection.js';
import { PassivePorts } from './passive-ports.js';

let pair: KeyPair;
before(async () => {
  pair = await generateSelfSigned('localhost');
});
after(() => mock.timers.reset());

const HANDSHAKE_MS = 10_000;
/** Far beyond anything the fake clock reaches here: only the handshake deadline can fire. */
const NEVER_MS = 1_000_000;
/** A passive endpoint's policy under PROT C, with no timer that fires within a test. */
const CLEAR_POLICY: DataPolicy = {
  peerAddress: '127.0.0.1',
  localAddress: '127.0.0.1',
  protect: () => undefined,
  requireSessionReuse: () => true,
  connectTimeoutMs: NEVER_MS,
  handshakeTimeoutMs: HANDSHAKE_MS,
  idleTimeoutMs: NEVER_MS,
  logger: silentLogger,
};
/** The first bytes of a ClientHello: a record header and the message type, never completed. */
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);

// Real sockets and TLS engine, fake clock: the clock moves only when the test ticks it, so how far it
// moved before the server gave up is the server's own deadline, whatever the machine's speed.
test('a data connection that stalls in its ClientHello fails one handshake timeout after it opened', async () => {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  let protectedAt: () => void = () => {};
  const preparing = new Promise<void>((resolve) => (protectedAt = resolve));
  const family = new SessionFamily(tls.createSecureContext(pair));
  const policy: DataPolicy = {
    peerAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    protect: () => (protectedAt(), family), // the deadline is set by now (at fake time 0)
    requireSessionReuse: () => true,
    connectTimeoutMs: NEVER_MS,
    handshakeTimeoutMs: HANDSHAKE_MS,
    idleTimeoutMs: NEVER_MS,
    logger: silentLogger,
  };
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const endpoint = new ActiveEndpoint({ host: '127.0.0.1' }, port, policy);
  let outcome: unknown;
  const opened = endpoint.open(new AbortController().signal, 'send').then(
    () => (outcome = 'opened'),
    (err: unknown) => (outcome = err),
  );
  const [client] = await accepted;
  client.on('error', () => {});
  const closed = once(client, 'close');
  client.write(PARTIAL_HELLO);
  await preparing;
  try {
    // Advance a tenth of the timeout per event-loop turn until the attempt ends, up to 1.5 times it
    // (reading the ClientHello and then the handshake each waited the full timeout: 2 times).
    const step = HANDSHAKE_MS / 10;
    while (outcome === undefined && Date.now() < HANDSHAKE_MS * 1.5) {
      mock.timers.tick(step);
      await new Promise(setImmediate);
    }
    assert.ok(outcome instanceof FerryError, `ended by ${HANDSHAKE_MS * 1.5} fake ms: ${String(outcome)}`);
    assert.equal(outcome.code, 'ERR_TLS');
    assert.ok(Date.now() >= HANDSHAKE_MS, 'not before the timeout');
    // Its reason (logged) says how long it took and the limit, not what was left of it for the
    // handshake once the ClientHello had been waited for ("timed out after 0 ms").
    const reason = (outcome.cause as Error).message;
    const m =
      /^TLS handshake timed out after (\d+) ms \(limit 10000 ms from the connection's start\)\.$/.exec(
        reason,
      );
    assert.ok(m, reason);
    assert.ok(Number(m[1]) >= HANDSHAKE_MS && Number(m[1]) <= Date.now(), reason);
  } finally {
    mock.timers.reset();
    endpoint.close();
    await opened;
    listener.close();
  }
  await closed; // the server cut the connection
});

// A client that sends its transfer command and hangs up at once: the transfer's signal is aborted
// before it opens the data connection. The endpoint's close() that follows settled the wait open()
// had left without a handler: an unhandled rejection, which ended the whole server process.
test('a passive wait opened with an aborted signal, then closed, leaves no unhandled rejection', async () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  const ports = new PassivePorts(0, 0);
  try {
    const endpoint = await PassiveEndpoint.create(ports, CLEAR_POLICY, {
      address: '127.0.0.1',
      user: undefined,
    });
    const hungUp = new AbortController();
    hungUp.abort();
    await assert.rejects(endpoint.open(hungUp.signal, 'send'), { code: 'ERR_ABORTED' });
    endpoint.close();
    // Unhandled rejections are reported once the microtasks have run, before the next turn ends.
    await new Promise(setImmediate);
    await new Promise(setImmediate);
    assert.deepEqual(rejections, []);
  } finally {
    process.off('unhandledRejection', onRejection);
    ports.close();
  }
});

// A PASV whose port is bound after its control connection closed: the session let go of its data
// endpoint before this one existed, so nothing would close it before its passive timeout.
test('a passive endpoint made after its session closed is closed at once, its port let go', async () => {
  const ports = new PassivePorts(0, 0, { perAddress: 1, perUser: Infinity });
  const owner = { address: '127.0.0.1', user: undefined };
  try {
    const hungUp = new AbortController();
    const creating = PassiveEndpoint.create(ports, CLEAR_POLICY, owner, hungUp.signal);
    hungUp.abort(); // after the request looked at the signal, while its port is being bound
    const made = await creating.catch((err: unknown) => err);
    if (made instanceof PassiveEndpoint) made.close(); // the zombie: else it holds the test open
    assert.ok(made instanceof FerryError && made.code === 'ERR_ABORTED', `made: ${String(made)}`);
    // The address's one passive port is free again: the next request gets it, not the limit.
    const next = await PassiveEndpoint.create(ports, CLEAR_POLICY, owner);
    next.close();
  } finally {
    ports.close();
  }
});
