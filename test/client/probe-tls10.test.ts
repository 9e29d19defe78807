/**
 * `ferry probe` against a server that speaks only TLS 1.0 (an old vsftpd): the TLS 1.2 resumption
 * points do not apply (their control connection got TLS 1.0), rather than reporting TLS 1.0's
 * resumption under TLS 1.2's name.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import readline from 'node:readline';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { testCertificate } from '../support/ferry.js';
import { probeCli } from '../support/probe.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Explicit FTPS with TLS 1.0 only: logs anyone in, takes PBSZ and PROT, offers no data connection. */
class Tls10Server extends ScriptedServer {
  constructor(private readonly tlsOptions: tls.TlsOptions) {
    super();
  }

  protected session(sock: net.Socket): void {
    let io: net.Socket = sock;
    const reply = (text: string): boolean => io.write(`${text}\r\n`);
    const serve = (input: net.Socket): void => {
      const lines = readline.createInterface({ input, crlfDelay: Infinity });
      lines.on('error', () => {});
      lines.on('line', (line) => {
        const { verb } = this.parse(line);
        if (verb === 'AUTH' && io === sock) {
          lines.close();
          reply('234 go ahead');
          const secure = new tls.TLSSocket(sock, { isServer: true, ...this.tlsOptions });
          this.track(secure);
          io = secure;
          serve(secure);
        } else if (verb === 'PBSZ' || verb === 'PROT' || verb === 'TYPE') reply('200 ok');
        else if (!this.common(io, verb, reply)) reply('502 not implemented');
      });
    };
    reply('220 old FTPS server');
    serve(sock);
  }
}

describe('ferry probe, a server with TLS 1.0 only', { timeout: 120_000 }, () => {
  let server: Tls10Server;
  before(async () => {
    server = new Tls10Server({
      ...(await testCertificate()),
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    await server.listen();
  });
  after(async () => {
    await server?.close();
  });

  it('the TLS 1.2 resumption points do not apply, and say what the connection got', async () => {
    const r = await probeCli([
      `ftpes://u:p@127.0.0.1:${server.port}/`,
      '--json',
      '--insecure',
      '--timeout',
      '2',
    ]);
    const report = JSON.parse(r.stdout) as ProbeReport;
    const byId = new Map(report.groups.flatMap((g) => g.points).map((p) => [p.id, p]));
    assert.equal(byId.get('tls-1.0')?.verdict, 'fail', 'TLS 1.0 accepted');
    assert.equal(byId.get('tls-1.2')?.verdict, 'not-supported');
    for (const id of ['resume-tls12-session-id', 'resume-tls12-ticket']) {
      const p = byId.get(id);
      assert.equal(p?.verdict, 'not-applicable', JSON.stringify(p));
      assert.match(p?.detail ?? '', /TLSv1, not TLS 1\.2/);
    }
  });
});
