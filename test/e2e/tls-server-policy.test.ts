/**
 * What the server's TLS picks, on control and data connections alike: its own cipher order (a
 * client listing a suite without forward secrecy first still gets ECDHE), and ALPN "ftp" or none
 * (a client offering only other protocols, ALPACA-style, is refused with no_application_protocol).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { certificateFiles, loggedIn, useFerry } from './harness.js';

/** A TLS 1.2 client that would take plain-RSA key exchange if the server let it choose. */
const RSA_FIRST = { ciphers: 'AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' } as const;

async function connected(port: number): Promise<net.Socket> {
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  return raw;
}

/** The handshake's outcome over `raw`: the socket, or the error's code (an alert's). */
async function handshake(raw: net.Socket, options: tls.ConnectionOptions): Promise<tls.TLSSocket | string> {
  const sock = tls.connect({ ...options, socket: raw, rejectUnauthorized: false });
  return once(sock, 'secureConnect').then(
    () => sock,
    (err: NodeJS.ErrnoException) => {
      sock.destroy();
      raw.destroy();
      return err.code ?? err.message;
    },
  );
}

/** The first reply line on a clear control connection, then AUTH TLS's. */
async function authTls(raw: net.Socket): Promise<void> {
  const reply = async (): Promise<string> => ((await once(raw, 'data')) as [Buffer])[0].toString();
  assert.match(await reply(), /^220/);
  raw.write('AUTH TLS\r\n');
  assert.match(await reply(), /^234/);
}

const NO_PROTOCOL = 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';

describe("the server's TLS choices", () => {
  let cleanup: () => Promise<void> = async () => {};
  let tlsOverride: Awaited<ReturnType<typeof certificateFiles>>['tls'];
  before(async () => {
    const files = await certificateFiles();
    cleanup = files.cleanup;
    // A data connection's own handshake, not resuming: kept open long enough to look at it.
    tlsOverride = { ...files.tls, requireSessionReuse: false };
  });
  // Refused handshakes from one address: none of them may end in a ban.
  const server = useFerry(() => ({ tls: tlsOverride, defender: { enabled: false } }));
  after(() => cleanup());

  /** Runs `fn` on a fresh TCP connection to each kind of TLS endpoint, TLS not yet started. */
  const endpoints: readonly [string, (fn: (raw: net.Socket) => Promise<void>) => Promise<void>][] = [
    ['implicit control', async (fn) => fn(await connected(server().implicitPort))],
    [
      'explicit control (AUTH TLS)',
      async (fn) => {
        const raw = await connected(server().explicitPort);
        await authTls(raw);
        await fn(raw);
      },
    ],
    [
      'data (LIST)',
      async (fn) => {
        const ftp = await loggedIn(server(), 'explicit');
        try {
          const port = await ftp.pasv();
          ftp.send('LIST\r\n');
          await fn(await connected(port));
        } finally {
          await ftp.close();
        }
      },
    ],
  ];

  for (const [name, on] of endpoints) {
    test(`${name}: on TLS 1.2 the server's order wins (ECDHE over a first-listed AES128-SHA)`, async () => {
      await on(async (raw) => {
        const sock = await handshake(raw, RSA_FIRST);
        assert.ok(typeof sock !== 'string', `handshake failed: ${String(sock)}`);
        assert.equal(sock.getCipher().name, 'ECDHE-RSA-AES256-GCM-SHA384');
        sock.destroy();
      });
    });

    test(`${name}: ALPN "ftp" is selected, none is fine, only "h2" is refused (no_application_protocol)`, async () => {
      await on(async (raw) => {
        assert.equal(await handshake(raw, { ALPNProtocols: ['h2', 'http/1.1'] }), NO_PROTOCOL);
      });
      await on(async (raw) => {
        const sock = await handshake(raw, { ALPNProtocols: ['h2', 'ftp'] });
        assert.ok(typeof sock !== 'string', `handshake failed: ${String(sock)}`);
        assert.equal(sock.alpnProtocol, 'ftp');
        sock.destroy();
      });
      await on(async (raw) => {
        const sock = await handshake(raw, {});
        assert.ok(typeof sock !== 'string', `handshake failed: ${String(sock)}`);
        assert.equal(sock.alpnProtocol, false);
        sock.destroy();
      });
    });
  }
});
