/**
 * `passiveAddress` as a host name (vsftpd's pasv_addr_resolve, ProFTPD's MasqueradeAddress: dynamic
 * DNS behind NAT): looked up at start, again at SIGHUP (a failed lookup keeps the last address), and
 * a name that does not resolve stops the start naming the key. The server runs in a mount namespace
 * whose /etc/hosts is a temp file the test rewrites (root only, as in CI).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry, ServeProcess, serveArgv } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

const NAME = 'pasv.ferry.test';
// A private mount namespace: root, and a container that allows it.
const canMount =
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['--mount', '--', 'true'], { stdio: 'ignore' }).status === 0;

describe(
  'passiveAddress as a host name',
  { timeout: 120_000, skip: !canMount && 'needs root and unshare --mount' },
  () => {
    let dir: string;
    let hosts: string;
    let server: ServeProcess;
    let config: string;
    let configText: string;

    const point = (address: string | undefined): Promise<void> =>
      writeFile(hosts, `127.0.0.1 localhost\n${address ? `${address} ${NAME}\n` : ''}`);

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pasv-name-'));
      hosts = path.join(dir, 'hosts');
      await point('198.51.100.7');
      const home = path.join(dir, 'home');
      await mkdir(home);
      config = path.join(dir, 'ferry.yaml');
      configText = [
        `passiveAddress: ${NAME}`,
        'users:',
        `  - { name: ann, passwordHash: "${await testHash('ann-pw')}", home: ${home} }`,
        '',
      ].join('\n');
      await writeFile(config, configText);
      // This server's /etc/hosts is `hosts` (a private bind mount; sh then execs node).
      const wrapper = ['unshare', '--mount', '--propagation', 'private', '--'];
      const bind = ['sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts];
      server = await ServeProcess.start(
        ['--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data')],
        dir,
        [...wrapper, ...bind],
      );
    });
    after(async () => {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    async function pasvAddress(): Promise<string> {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
      try {
        await ftp.expect(220);
        await ftp.login('ann', 'ann-pw');
        const m = /\((\d+),(\d+),(\d+),(\d+),\d+,\d+\)/.exec(textOf(await ftp.cmd('PASV', 227)));
        return m ? m.slice(1, 5).join('.') : 'no address';
      } finally {
        await ftp.close();
      }
    }

    async function reload(outcome = 'configuration reloaded'): Promise<number> {
      const from = server.log.length;
      server.child.kill('SIGHUP');
      await server.waitForLog((l) => server.log.indexOf(l) >= from && l.msg === outcome, outcome);
      return from;
    }

    test('PASV announces the address the name resolves to, looked up again at SIGHUP', async () => {
      assert.equal(await pasvAddress(), '198.51.100.7');
      await point('198.51.100.8'); // the dynamic DNS name moved
      await reload();
      assert.equal(await pasvAddress(), '198.51.100.8');
    });

    test('a lookup that fails keeps the last address, with one warning', async () => {
      await point(undefined);
      const from = await reload();
      await reload();
      assert.equal(await pasvAddress(), '198.51.100.8');
      const warnings = server.log.slice(from).filter((l) => /host name lookup failed/.test(l.msg ?? ''));
      assert.equal(warnings.length, 1, 'warned once');
      assert.equal(warnings[0]?.name, NAME);
    });

    test('a rejected reload changes nothing: PASV keeps the address although the name moved', async () => {
      await point('198.51.100.9');
      // Valid as a file; refused when the server loads the certificate, after the lookup.
      const missing = path.join(dir, 'missing.pem');
      await writeFile(config, `${configText}certificates: [{ cert: ${missing}, key: ${missing} }]\n`);
      const from = await reload('configuration reload failed; the running configuration is kept');
      assert.equal(await pasvAddress(), '198.51.100.8');
      const moved = server.log.slice(from).filter((l) => /now resolves elsewhere/.test(l.msg ?? ''));
      assert.deepEqual(moved, [], 'no switch logged');
      // Accepted again: the name's new address.
      await writeFile(config, configText);
      await reload();
      assert.equal(await pasvAddress(), '198.51.100.9');
    });
  },
);

test('a passive host name that does not resolve stops the start, naming the key', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pasv-name-'));
  try {
    const config = path.join(dir, 'ferry.yaml');
    await writeFile(config, 'passiveAddress: nowhere.invalid\n');
    const { argv } = await serveArgv();
    const r = await runFerry([...argv.slice(1), '--config', config, '--data-dir', path.join(dir, 'data')]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /passiveAddress cannot resolve the host name "nowhere\.invalid" to an IPv4 address/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with --workers 2, a reload naming a passive host that does not resolve is refused whole', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pasv-name-'));
  let server: ServeProcess | undefined;
  try {
    const home = path.join(dir, 'home');
    await mkdir(home);
    const config = path.join(dir, 'ferry.yaml');
    const user = `users:\n  - { name: ann, passwordHash: "${await testHash('ann-pw')}", home: ${home} }\n`;
    await writeFile(config, user);
    server = await ServeProcess.start(
      ['--config', config, '--workers', '2', '--data-dir', path.join(dir, 'data')],
      dir,
    );
    const s = server;
    // Both refused by the workers alone, the primary used to take maxSessions and say "reloaded".
    await writeFile(config, `passiveAddress: nowhere.invalid\nmaxSessions: 1\n${user}`);
    const from = s.log.length;
    s.child.kill('SIGHUP');
    const outcome = await s.waitForLog(
      (l) => s.log.indexOf(l) >= from && /^configuration reload/.test(l.msg ?? ''),
      'the reload outcome',
    );
    assert.equal(outcome.msg, 'configuration reload failed; the running configuration is kept');
    assert.match(String(outcome.err), /cannot resolve the host name "nowhere\.invalid"/);
    // The running maxSessions: two sessions at once.
    const sessions = await Promise.all(
      [1, 2].map(async () => {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: s.implicitPort, implicit: true });
        await ftp.expect(220);
        await ftp.login('ann', 'ann-pw');
        return ftp;
      }),
    );
    for (const ftp of sessions) await ftp.close();
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
