/**
 * Active mode (EPRT/PORT) when the server cannot connect to the client, as behind NAT: the server
 * answers the transfer command `150`, tries, and answers `425`. The client used to ignore that 425,
 * wait out its connect timeout (15 s), say the server never connected, and try again (three times
 * with `ferry --retry`, ~47 s). Now, as curl and lftp, the 425 (any final reply) ends the wait at
 * once, with the reply and a pointer to passive mode, and is not retried; a connection from
 * another address than the server's is refused and named (in --verbose and in the failure); a
 * server that neither connects nor answers is given up with ABOR, the connection kept in step.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { FerryError, ReplyError } from '../../src/errors.js';
import type { FerryClient } from '../../src/client/client.js';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { DialogueLog, ferry } from './helpers.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

const CANT_OPEN = "425 Can't open data connection.";

/** The port of an EPRT argument (`|1|127.0.0.1|41234|`). */
const eprtPort = (arg: string): number => Number(arg.split('|')[3]);

/** Connects to the client's active-mode port from `from` (not the server's address); resolves once the client closed it. */
function connectFrom(from: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: from });
    sock.on('error', () => {});
    sock.once('close', () => resolve());
  });
}

describe('active mode when the server cannot connect', { timeout: 60_000 }, () => {
  const servers: FakeFtp[] = [];
  let tmp = '';

  after(async () => {
    for (const s of servers) await s.close();
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  async function serve(answer: NonNullable<FakeFtpOptions['answer']>): Promise<FakeFtp> {
    const server = await FakeFtp.start({ answer });
    server.files.set('a.txt', { data: Buffer.from('a'), modified: new Date() });
    servers.push(server);
    return server;
  }

  /** EPRT taken; the transfer commands answered `transfer`; ABOR as vsftpd answers it. */
  const activeServer = (transfer: (arg: string, port: number) => string | Promise<string> | undefined) => {
    let port = 0;
    return serve((verb, arg) => {
      if (verb === 'EPRT') {
        port = eprtPort(arg);
        return '200 EPRT command successful.';
      }
      if (verb === 'LIST' || verb === 'RETR') return transfer(arg, port);
      if (verb === 'ABOR') return '426 Transfer aborted.\r\n226 ABOR successful.';
      return undefined;
    });
  };

  /**
   * LIST in active mode, failed with a ReplyError (asserted). A long connect timeout: only the
   * server's reply can end the wait before the test's own timeout.
   */
  async function listActive(
    server: FakeFtp,
  ): Promise<{ client: FerryClient; log: DialogueLog; err: ReplyError }> {
    const log = new DialogueLog();
    const client = await server.connect({ dataMode: 'active', connectTimeoutMs: 50_000, log: log.log });
    const err = await client.list('').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplyError, `${String(err)}\n${log.dump()}`);
    return { client, log, err };
  }

  it('a 425 after the 150 ends the transfer at once: the reply, then what to do (passive mode)', async () => {
    const server = await activeServer(() => `150 Here comes the directory listing.\r\n${CANT_OPEN}`);
    const { client, log, err } = await listActive(server);
    assert.equal(err.replyCode, 425);
    assert.match(
      err.message,
      /^LIST: 425 Can't open data connection\. \(active mode: it did not reach this client at 127\.0\.0\.1:\d+; behind NAT or a firewall\? use passive mode, without --active\)$/,
    );
    // The connection goes on: the next command gets its own reply.
    assert.equal(await client.pwd(), '/', log.dump());
  });

  it('a 425 without a 150 (vsftpd connects before it answers) says the same', async () => {
    const server = await activeServer(() => CANT_OPEN);
    const client = await server.connect({ dataMode: 'active', connectTimeoutMs: 50_000 });
    await assert.rejects(
      client.list(''),
      (e: unknown) => e instanceof ReplyError && /passive mode/.test(e.message),
    );
  });

  it("a connection from another address than the server's is refused, and named in the log and the failure", async () => {
    const server = await activeServer(async (_arg, port) => {
      await connectFrom('127.0.0.2', port);
      return `150 Opening data connection.\r\n${CANT_OPEN}`;
    });
    const { log, err } = await listActive(server);
    assert.match(
      err.message,
      /\(active mode: a connection came from 127\.0\.0\.2, not the server's address 127\.0\.0\.1: refused; .*use passive mode/,
    );
    assert.ok(
      log.lines.some((l) =>
        l.startsWith("* Refused a data connection from 127.0.0.2: not the server's address 127.0.0.1"),
      ),
      log.dump(),
    );
  });

  it('no connection and no reply within the connect timeout: given up with ABOR, the connection still usable', async () => {
    const server = await activeServer(() => '150 Opening data connection.');
    const log = new DialogueLog();
    const client = await server.connect({ dataMode: 'active', connectTimeoutMs: 500, log: log.log });
    await assert.rejects(
      client.list(''),
      (e: unknown) =>
        e instanceof FerryError && e.code === 'ERR_DATA_CONNECTION' && /use passive mode/.test(e.message),
    );
    assert.ok(server.verbs.includes('ABOR'), server.verbs.join(' '));
    assert.equal(await client.pwd(), '/', log.dump());
  });

  it('ferry get --active: the 425 printed with the hint, exit 8, and not retried', async () => {
    const server = await activeServer(() => `150 Opening BINARY mode data connection.\r\n${CANT_OPEN}`);
    tmp ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-active-'));
    const r = await ferry(
      ['get', '--allow-plain', '--active', '--verbose', `ftp://u@127.0.0.1:${server.port}/a.txt`, tmp],
      { FERRY_PASSWORD: 'p' },
    );
    assert.equal(r.code, EXIT.transfer, r.stderr);
    assert.match(r.stderr, /425 Can't open data connection\..*use passive mode, without --active/);
    assert.doesNotMatch(r.stderr, /retrying/);
    assert.equal(server.verbs.filter((v) => v === 'RETR').length, 1, server.commands.join('\n'));
  });

  it('EPSV refused over IPv6: the failure points to active mode (PASV cannot carry an IPv6 address)', async () => {
    const server = await FakeFtp.start({
      host: '::1',
      answer: (verb) => (verb === 'EPSV' ? '500 EPSV not understood.' : undefined),
    });
    servers.push(server);
    const client = await server.connect({ host: '::1' });
    await assert.rejects(client.list(''), (e: unknown) => {
      assert.match(
        String(e),
        /The server refused EPSV, and PASV cannot work over IPv6: use active mode \(--active\)/,
      );
      return true;
    });
  });

  it("a 425 saying the address is in use (ProFTPD's port 20 in TIME_WAIT) is still retried", async () => {
    let tries = 0;
    const server = await activeServer(() =>
      tries++ === 0
        ? '150 Opening BINARY mode data connection.\r\n425 Unable to build data connection: Address already in use'
        : undefined,
    );
    tmp ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-active-'));
    const r = await ferry(
      ['get', '--allow-plain', '--active', `ftp://u@127.0.0.1:${server.port}/a.txt`, path.join(tmp, 'b.txt')],
      { FERRY_PASSWORD: 'p' },
    );
    // The fake has no active mode of its own: the second try fails otherwise, but it was made.
    assert.match(r.stderr, /retrying .*Address already in use/, r.stderr);
    assert.ok(server.verbs.filter((v) => v === 'RETR').length >= 2, server.commands.join('\n'));
  });
});
