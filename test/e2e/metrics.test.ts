/**
 * Prometheus metrics (issue 10, "Observe"): after a known sequence of logins, transfers and refused
 * data connections, the registry the server was given says exactly that (read back through the
 * exposition format a scraper sees).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { MemoryStorage } from '../../src/storage/memory.js';
import { withDeadline } from '../support/raw-ftp.js';
import { parseExposition, sample, type Samples } from '../support/prometheus.js';
import { connectSecure, loggedIn, MODES, randomData, useFerry, waitForLog, withClients } from './harness.js';

for (const mode of MODES) {
  describe(`metrics (${mode})`, { timeout: 120_000 }, () => {
    const registry = new Registry();
    // 64 KiB of space in all: the second upload below goes over it (552).
    const storage = new MemoryStorage({ maxBytes: 64 * 1024 });
    const server = useFerry({ metrics: registry, storageFor: () => storage });
    const scrape = async (): Promise<Samples> => parseExposition(await registry.metrics());

    test('logins, commands, transfers, TLS handshakes, refusals and quota rejections are counted', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const during = await scrape();
        assert.equal(sample(during, 'ferry_sessions', { mode }), 1);
        assert.equal(sample(during, 'ferry_logins_total', { result: 'success' }), 1);

        await ftp.cmd('TYPE I', 200);
        const body = randomData(40_000);
        const [, stored] = await ftp.store('a.bin', body);
        assert.equal(stored.code, 226);
        assert.equal((await ftp.retrieve('a.bin')).length, body.length);
        const [, refused] = await ftp.store('b.bin', randomData(40_000));
        assert.equal(refused.code, 552);

        // A data connection that does not resume the control session, then one from another address.
        let port = await ftp.epsv();
        await ftp.openData(port, { tls: true, reuse: false }).catch(() => undefined);
        await waitForLog(server(), (l) => /did not resume/.test(l.msg));
        // It offered no session, so the port is let go; the client's own download takes another.
        const own = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('RETR a.bin', 150);
        assert.equal((await ftp.readAll(own)).length, body.length);
        await ftp.expect(226);
        port = await ftp.epsv();
        const intruder = await ftp.openData(port, { tls: false, localAddress: '127.0.0.2' });
        await withDeadline(intruder.closed, ftp.timeoutMs, 'the server to drop the intruder');
        await waitForLog(server(), (l) => /not from the control connection peer/.test(l.msg));

        const wrong = track(await connectSecure(server(), mode));
        await wrong.cmd('USER alice', 331);
        await wrong.cmd('PASS wrong', 530);
        await ftp.quit();
        await wrong.quit();
      });
      // Both sessions have ended on the server's side too.
      const disconnects = (): number => server().logs.filter((l) => l.msg === 'disconnect').length;
      await waitForLog(server(), () => disconnects() >= 2);

      const s = await scrape();
      assert.equal(sample(s, 'ferry_logins_total', { result: 'success' }), 1);
      assert.equal(sample(s, 'ferry_logins_total', { result: 'failure' }), 1);
      assert.equal(sample(s, 'ferry_commands_total', { verb: 'PASS', class: '2xx' }), 1);
      assert.equal(sample(s, 'ferry_commands_total', { verb: 'PASS', class: '5xx' }), 1);
      assert.equal(sample(s, 'ferry_commands_total', { verb: 'STOR', class: '2xx' }), 1);
      assert.equal(sample(s, 'ferry_commands_total', { verb: 'STOR', class: '5xx' }), 1);
      assert.equal(sample(s, 'ferry_commands_total', { verb: 'RETR', class: '2xx' }), 2);
      assert.equal(sample(s, 'ferry_command_duration_seconds_count', { verb: 'STOR' }), 2);
      // The refused upload counts what arrived before the quota stopped it.
      assert.ok(sample(s, 'ferry_transfer_bytes_total', { direction: 'upload' }) >= 40_000);
      assert.equal(sample(s, 'ferry_transfer_bytes_total', { direction: 'download' }), 80_000);
      assert.equal(sample(s, 'ferry_transfers_total', { direction: 'upload', result: 'ok' }), 1);
      assert.equal(sample(s, 'ferry_transfers_total', { direction: 'upload', result: 'failed' }), 1);
      assert.equal(sample(s, 'ferry_transfers_total', { direction: 'download', result: 'ok' }), 2);
      assert.equal(sample(s, 'ferry_quota_rejections_total'), 1);
      assert.equal(sample(s, 'ferry_data_connections_refused_total', { reason: 'no-session-reuse' }), 1);
      assert.equal(sample(s, 'ferry_data_connections_refused_total', { reason: 'foreign-address' }), 1);
      const control = [...s].filter(([k]) => k.startsWith('ferry_tls_handshakes_total{channel="control"'));
      assert.equal(
        control.reduce((n, [, v]) => n + v, 0),
        2,
        `two control handshakes: ${JSON.stringify(control)}`,
      );
      // Four data connections resumed the control session (two STOR, two RETR), one did not.
      const data = [...s].filter(([k]) => k.startsWith('ferry_tls_handshakes_total{channel="data"'));
      const resumed = data.filter(([k]) => k.includes('resumed="true"')).reduce((n, [, v]) => n + v, 0);
      const fresh = data.filter(([k]) => k.includes('resumed="false"')).reduce((n, [, v]) => n + v, 0);
      assert.deepEqual([resumed, fresh], [4, 1], JSON.stringify(data));
      assert.equal(sample(s, 'ferry_sessions', { mode }), 0);
      assert.equal(sample(s, 'ferry_bans'), 0);
    });
  });
}
