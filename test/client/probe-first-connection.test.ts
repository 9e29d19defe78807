/**
 * `ferry probe` when its first connection gets no FTPS session: a server that accepts and says
 * nothing (hung, stopped, or an implicit FTPS port asked for as explicit), one that greets and then
 * never answers AUTH TLS, one that is no FTP server at all, one that refuses AUTH TLS, one whose TLS
 * handshake fails (it requires a client certificate) or that greets in clear (ftps:// at an explicit
 * port: the hint says ftpes://). Each still gets a report: the silent ones
 * `the server stopped answering` (exit 3, never read as a ban), the non-FTP one `not an FTP server`
 * (exit 3), a failed TLS the checks that need none (exit 4). A greeting of several lines is shown
 * as received.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import type { ProbeReport } from '../../src/client/probe/types.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { probeCli } from '../support/probe.js';
import { ScriptedServer } from './support/scripted-server.js';

type Mode = 'silent' | 'greet-only' | 'http' | 'endless' | 'clear-only' | 'needs-cert';

/** A control server that behaves as `mode` says (see the file's comment). */
class OddServer extends ScriptedServer {
  constructor(
    private readonly mode: Mode,
    private readonly tlsOptions: tls.TlsOptions = {},
  ) {
    super();
  }

  protected session(sock: net.Socket): void {
    const reply = (text: string): boolean => sock.write(`${text}\r\n`);
    if (this.mode === 'silent') return;
    if (this.mode === 'http') return void sock.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    if (this.mode === 'endless') {
      sock.write('220');
      this.every(5, () => sock.write('x'.repeat(16 * 1024)));
      return;
    }
    reply('220-odd FTP server\r\n220 ready'); // several lines, as Pure-FTPd's
    if (this.mode === 'greet-only') return;
    let pending = '';
    const onData = (d: Buffer): void => {
      pending += d.toString('latin1');
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i).replace(/\r$/, '');
        pending = pending.slice(i + 1);
        const { verb } = this.parse(line);
        if (verb === 'AUTH' && this.mode === 'needs-cert') {
          // From here on TLS: a server that requires a client certificate fails the handshake.
          sock.off('data', onData);
          reply('234 go ahead');
          this.track(new tls.TLSSocket(sock, { isServer: true, ...this.tlsOptions }));
          return;
        }
        if (verb === 'AUTH') reply('500 AUTH not understood');
        else if (verb === 'FEAT') reply('211-Features:\r\n SIZE\r\n211 End');
        else if (verb === 'PBSZ' || verb === 'PROT') reply('503 Security data exchange first');
        else if (verb === 'USER') reply('530 Log in with TLS');
        else if (!this.common(sock, verb, reply)) reply('502 not implemented');
      }
    };
    sock.on('data', onData);
  }
}

const points = (r: ProbeReport): ProbeReport['groups'][number]['points'] => r.groups.flatMap((g) => g.points);

/** Every point's verdict, and the set of reasons of the ones not completed. */
function verdicts(r: ProbeReport): Record<string, string> {
  return Object.fromEntries(points(r).map((p) => [p.id, p.verdict]));
}

describe('ferry probe, first connection without an FTPS session', { timeout: 120_000 }, () => {
  const servers: ScriptedServer[] = [];
  let ferry: TestServer;
  before(async () => {
    ferry = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
  });
  after(async () => {
    for (const s of servers) await s.close();
    await ferry?.close();
  });
  const start = async (mode: Mode, o?: tls.TlsOptions): Promise<number> => {
    const s = new OddServer(mode, o);
    servers.push(s);
    await s.listen();
    return s.port;
  };

  const silent = 'the server stopped answering (no reply within 1000 ms)';
  for (const c of [
    { what: 'a server that accepts and says nothing', mode: 'silent', greeting: '-', scheme: 'ftpes' },
    {
      what: 'a server that greets and never answers AUTH TLS',
      mode: 'greet-only',
      greeting: '220-odd FTP server',
      scheme: 'ftpes',
    },
    {
      what: 'ftp://, a server that greets and never answers AUTH TLS',
      mode: 'greet-only',
      greeting: '220-odd FTP server',
      scheme: 'ftp',
    },
    { what: 'ftpes:// at an implicit FTPS port', mode: 'ferry-implicit', greeting: '-', scheme: 'ftpes' },
  ] as const) {
    it(`${c.what}: stopped answering, not a ban (exit 3)`, async () => {
      const port = c.mode === 'ferry-implicit' ? ferry.implicitPort : await start(c.mode);
      const r = await probeCli([`${c.scheme}://u:p@127.0.0.1:${port}/`, '--json', '--timeout', '1']);
      assert.equal(r.code, 3, r.stderr);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.equal(report.greeting, c.greeting);
      if (c.greeting !== '-') assert.deepEqual(report.greetingLines, ['220-odd FTP server', '220 ready']);
      assert.deepEqual(report.summary.incomplete, [silent]);
      assert.equal(report.summary.notCompleted, points(report).length);
      assert.doesNotMatch(r.stderr, /ban/);
      assert.match(r.stderr, /the server stopped answering \(no reply within 1000 ms\)/);
      if (c.greeting === '-') assert.match(r.stderr, /if the server uses implicit FTPS, use ftps:\/\//);
    });
  }

  for (const mode of ['http', 'endless'] as const) {
    it(`a server that is not FTP (${mode}): a report, not completed (exit 3)`, async () => {
      const port = await start(mode);
      const r = await probeCli([`ftpes://u:p@127.0.0.1:${port}/`, '--json', '--timeout', '2']);
      assert.equal(r.code, 3, r.stderr);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.equal(report.summary.incomplete.length, 1, report.summary.incomplete.join('\n'));
      assert.match(report.summary.incomplete[0] ?? '', /^not an FTP server: .*not an FTP reply/);
      assert.match(r.stderr, /^ferry: incomplete: not an FTP server: /);
      assert.equal(report.summary.notCompleted, points(report).length);
    });
  }

  it('AUTH TLS refused: the checks in clear, the rest not completed (exit 4); ftp:// as ftpes://', async () => {
    const port = await start('clear-only');
    const ids: Record<string, string[]> = {};
    for (const scheme of ['ftpes', 'ftp'] as const) {
      const r = await probeCli([`${scheme}://u:p@127.0.0.1:${port}/`, '--json', '--timeout', '2']);
      assert.equal(r.code, 4, `${scheme}: ${r.stderr}`);
      const report = JSON.parse(r.stdout) as ProbeReport;
      const why = 'TLS failed: The server refused AUTH TLS: 500 AUTH not understood';
      assert.deepEqual(report.summary.incomplete, [why]);
      assert.equal(report.summary.complete, false);
      assert.equal(report.greeting, '220-odd FTP server');
      const v = verdicts(report);
      assert.equal(v['pbsz-before-auth-refused'], 'pass');
      assert.equal(v['user-in-clear-refused'], 'pass');
      assert.equal(v['feat-pbsz'], 'fail'); // FEAT, read in clear, lists no PBSZ
      assert.equal(v['explicit-auth-ssl'], 'not-supported');
      assert.equal(v['tls-1.2'], 'not-completed');
      assert.equal(v['pbsz-prot-p'], 'not-completed');
      assert.equal(v['tls-offered'], scheme === 'ftp' ? 'fail' : undefined);
      assert.match(r.stderr, /TLS failed: .*only the checks that need no TLS/);
      ids[scheme] = points(report)
        .map((p) => p.id)
        .filter((id) => id !== 'tls-offered');
    }
    // ftp:// has every point ftpes:// has, and tls-offered.
    assert.deepEqual(ids['ftp'], ids['ftpes']);
  });

  it('ferry probe --help says ftp:// is probed as ftpes:// once TLS is offered', async () => {
    const r = await probeCli(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout.replace(/\s+/g, ' '),
      /An ftp:\/\/ URL asks whether TLS is offered \(AUTH TLS\), then is probed as ftpes:\/\//,
    );
  });

  it('ftps:// at an explicit FTPS port: the failed TLS, and the hint ftpes:// (exit 4)', async () => {
    const r = await probeCli([`ftps://u:p@127.0.0.1:${ferry.explicitPort}/`, '--json', '--timeout', '2']);
    assert.equal(r.code, 4, r.stderr);
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.match(report.summary.incomplete[0] ?? '', /^TLS failed: /);
    // As ferry ls says it at the same port.
    assert.match(r.stderr, /does not start with TLS: is this an explicit FTPS port\? Use ftpes:\/\//);
  });

  for (const scheme of ['ftpes', 'ftp'] as const) {
    it(`${scheme}://, a handshake that fails (a client certificate required): a report (exit 4)`, async () => {
      const pair = await testCertificate();
      const port = await start('needs-cert', {
        ...pair,
        requestCert: true,
        rejectUnauthorized: true,
        maxVersion: 'TLSv1.2', // as vsftpd: the refusal is a handshake_failure alert
      });
      const r = await probeCli([`${scheme}://u:p@127.0.0.1:${port}/`, '--json', '--timeout', '2']);
      assert.equal(r.code, 4, r.stderr);
      const report = JSON.parse(r.stdout) as ProbeReport;
      assert.equal(report.summary.incomplete.length, 1, report.summary.incomplete.join('\n'));
      assert.match(report.summary.incomplete[0] ?? '', /^TLS failed: .*handshake failure/i);
      const v = verdicts(report);
      if (scheme === 'ftp') assert.equal(v['tls-offered'], 'pass');
      assert.equal(v['pbsz-before-auth-refused'], 'pass');
      assert.equal(v['user-in-clear-refused'], 'pass');
      assert.equal(v['explicit-auth-ssl'], 'not-completed');
      assert.equal(v['feat-pbsz'], 'fail'); // FEAT, read in clear, lists no PBSZ
      assert.match(r.stderr, /give --cert and --key/);
    });
  }
});
