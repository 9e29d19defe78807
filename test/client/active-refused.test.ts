/**
 * Active mode refused by the server (a client behind NAT sends an address the server will not
 * connect to): the client stops at the refusal with the server's reply and what to do, instead of
 * taking EPRT for unsupported and sending the same address again with PORT.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { ReplyError } from '../../src/errors.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

describe('active mode refused by the server', { timeout: 30_000 }, () => {
  const servers: FakeFtp[] = [];
  const clients: FerryClient[] = [];
  after(async () => {
    for (const c of clients) await c.close();
    for (const s of servers) await s.close();
  });

  async function listActive(o: FakeFtpOptions): Promise<{ server: FakeFtp; err: unknown }> {
    const server = await FakeFtp.start(o);
    servers.push(server);
    const client = await FerryClient.connect({
      host: '127.0.0.1',
      port: server.port,
      security: 'none',
      allowPlain: true,
      user: 'u',
      password: 'p',
      dataMode: 'active',
    });
    clients.push(client);
    const err = await client.list('').then(
      () => undefined,
      (e: unknown) => e,
    );
    return { server, err };
  }

  it('EPRT refused for its address (504): the reply and a pointer to passive mode; no PORT sent', async () => {
    const { server, err } = await listActive({
      answer: (verb) => (verb === 'EPRT' ? '504 Active mode to another host refused.' : undefined),
    });
    assert.ok(err instanceof ReplyError, String(err));
    assert.equal(err.replyCode, 504);
    assert.match(
      err.message,
      /^EPRT: 504 Active mode to another host refused\. .*behind NAT\? use passive mode/,
    );
    assert.ok(!server.verbs.includes('PORT'), server.verbs.join(' '));
  });

  it('a server without EPRT (502) gets PORT, and a refused PORT says the same', async () => {
    const { server, err } = await listActive({
      answer: (verb) =>
        verb === 'EPRT'
          ? '502 Command not implemented.'
          : verb === 'PORT'
            ? '500 Illegal PORT command.'
            : undefined,
    });
    assert.ok(server.verbs.includes('PORT'), server.verbs.join(' '));
    assert.ok(err instanceof ReplyError, String(err));
    assert.match(err.message, /^PORT: 500 Illegal PORT command\. .*use passive mode/);
  });
});
