/**
 * IPv4 clients that reach an IPv6 server through a NAT64/SIIT translator arrive as the prefix
 * followed by their IPv4 address (RFC 6052): 198.51.100.1 as 64:ff9b::c633:6401. Counted by their
 * IPv6 /64, every IPv4 client was one: one guesser banned them all, and three of them met
 * `maxSessionsPerAddress` 2. Each now counts as the IPv4 address it embeds (the well-known prefix,
 * and a site's own in `defender.nat64Prefixes`), is logged with it (`ipv4`), banned as it, and
 * `kick --address` names it. The clients come through a trusted proxy on loopback whose PROXY header
 * names them (as defender.test.ts's IPv6 clients): the server sees the translated address exactly
 * as behind a translator.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { textOf } from '../support/raw-ftp.js';
import { useFerry, viaProxy, wrongPassword, waitForLog, withClients } from './harness.js';

describe('NAT64/SIIT clients count by the IPv4 address they embed', () => {
  const server = useFerry({
    proxyProtocol: { trusted: ['127.0.0.1/32'], required: true },
    limits: { maxSessionsPerAddress: 2 },
    defender: { threshold: 2, nat64Prefixes: ['2001:db8:46::/96'] },
  });

  test('a guesser behind 64:ff9b::/96 is banned as its IPv4 address alone; the next IPv4 client is let in', async () => {
    const ts = server();
    await withClients(async (track) => {
      for (const user of ['nobody', ts.user]) {
        const { ftp, first } = await viaProxy(ts, '64:ff9b::198.51.100.1');
        track(ftp);
        assert.equal(first.code, 220);
        await wrongPassword(ftp, user);
      }
      const banned = await waitForLog(ts, (l) => l.msg === 'address banned');
      assert.equal((banned.obj as { remote?: string }).remote, '198.51.100.1');
      const again = await viaProxy(ts, '64:ff9b::c633:6401');
      track(again.ftp);
      assert.match(textOf(again.first), /banned/);
      const other = await viaProxy(ts, '64:ff9b::198.51.100.2');
      track(other.ftp);
      assert.equal(other.first.code, 220, textOf(other.first));
      // The failed logins were logged with the IPv4 client beside the translated address.
      const failed = ts.logs.find((l) => l.msg === 'login failed');
      assert.deepEqual(
        {
          remote: (failed?.obj as { remote?: string } | undefined)?.remote,
          ipv4: (failed?.obj as { ipv4?: string } | undefined)?.ipv4,
        },
        { remote: '64:ff9b::c633:6401', ipv4: '198.51.100.1' },
      );
    });
  });

  test("three IPv4 clients through the site's own prefix are three addresses to maxSessionsPerAddress 2", async () => {
    const ts = server();
    await withClients(async (track) => {
      for (const from of [
        '2001:db8:46::198.51.100.11',
        '2001:db8:46::198.51.100.12',
        '2001:db8:46::198.51.100.13',
      ]) {
        const { ftp, first } = await viaProxy(ts, from);
        track(ftp);
        assert.equal(first.code, 220, `${from}: ${textOf(first)}`);
      }
      // The same IPv4 client is one, through the translator or not.
      track((await viaProxy(ts, '198.51.100.11')).ftp);
      const third = await viaProxy(ts, '2001:db8:46::c633:640b');
      track(third.ftp);
      assert.match(textOf(third.first), /Too many connections from your address \(at most 2\)/);
    });
  });

  test('kick --address with the IPv4 address ends the sessions it makes through the translator', async () => {
    const ts = server();
    await withClients(async (track) => {
      const { ftp, first } = await viaProxy(ts, '64:ff9b::198.51.100.21');
      track(ftp);
      assert.equal(first.code, 220);
      const kicked = ts.server.kick({ ids: [], address: '198.51.100.21' }, 'test');
      assert.deepEqual(
        kicked.map((s) => s.address),
        ['64:ff9b::c633:6415'],
      );
    });
  });
});
