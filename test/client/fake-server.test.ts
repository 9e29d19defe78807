/**
 * The client against a scripted plain FTP server (support/fake-ftp.ts) that behaves as some real
 * servers do:
 * - a 421 answer to any command ends the connection: the error carries the server's text, and
 *   nothing more is sent on it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { DialogueLog } from './helpers.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

describe('the client against servers with quirks (a scripted server)', { timeout: 30_000 }, () => {
  const servers: FakeFtp[] = [];
  const clients: FerryClient[] = [];
  const log = new DialogueLog();

  after(async () => {
    for (const c of clients) await c.close();
    for (const s of servers) await s.close();
  });

  async function serve(o: FakeFtpOptions = {}): Promise<FakeFtp> {
    const server = await FakeFtp.start(o);
    servers.push(server);
    return server;
  }

  async function connect(server: FakeFtp, extra: Partial<ClientOptions> = {}): Promise<FerryClient> {
    const client = await FerryClient.connect({
      host: '127.0.0.1',
      port: server.port,
      security: 'none',
      allowPlain: true,
      user: 'u',
      password: 'p',
      log: log.log,
      ...extra,
    });
    clients.push(client);
    return client;
  }

  it('421 to any command is the end of the connection, with its reason; nothing more is sent', async () => {
    const atPwd = await serve({ answer: (verb) => (verb === 'PWD' ? '421 Timeout.' : undefined) });
    await assert.rejects(connect(atPwd), { name: 'ConnectionError', message: /421 Timeout\./ });
    assert.equal(atPwd.verbs.at(-1), 'PWD', log.dump());

    const atSize = await serve({ answer: (verb) => (verb === 'SIZE' ? '421 Timeout.' : undefined) });
    const client = await connect(atSize);
    await assert.rejects(client.get('a.bin', '/dev/null', { resume: true }), /421 Timeout\./);
    assert.equal(atSize.verbs.at(-1), 'SIZE', log.dump());
    assert.ok(client.closed);
    await assert.rejects(client.send('NOOP'), /421 Timeout\./);
    assert.equal(atSize.verbs.at(-1), 'SIZE');
  });
});
