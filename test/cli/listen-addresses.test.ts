/**
 * Several listen addresses (`--listen a,b`, a `listen:` list): each gets both listeners, on one
 * port, with --workers too (the primary listens on all); `0.0.0.0` and `::` together work (`::`
 * then takes IPv6 only); the banner lists each address. `[::1]`, the form the banner prints, is
 * taken as `::1` (flag and config file); other bracketed text is refused in one line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bannerOf, FERRY_MAIN, ServeProcess, serveArgv } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';

let dir: string;

/** The 220 greeting of the implicit listener at host:port. */
async function greeting(host: string, port: number): Promise<string> {
  const ftp = await RawFtp.connect({ host, port, implicit: true });
  try {
    return textOf(await ftp.expect(220));
  } finally {
    await ftp.close();
  }
}

describe('several listen addresses', { timeout: 180_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-listen-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('--listen 127.0.0.1,::1: both ports answer on each address; the banner lists each', async () => {
    const server = await ServeProcess.start(
      ['--listen', '127.0.0.1,::1', '--workers', '1', '--data-dir', path.join(dir, 'data1')],
      dir,
    );
    try {
      for (const host of ['127.0.0.1', '::1'])
        assert.match(await greeting(host, server.implicitPort), /Ferry/);
      const p = server.implicitPort;
      const e = server.explicitPort;
      assert.match(
        server.banner,
        new RegExp(`implicit  ftps://127\\.0\\.0\\.1:${p}, ftps://\\[::1\\]:${p}\n`),
      );
      assert.match(
        server.banner,
        new RegExp(`explicit  ftpes://127\\.0\\.0\\.1:${e}, ftpes://\\[::1\\]:${e} `),
      );
    } finally {
      await server.stop();
    }
  });

  test('listen: [0.0.0.0, "::"] in ferry.yaml with workers: IPv4 and IPv6 both reach the server', async () => {
    const config = path.join(dir, 'ferry.yaml');
    await writeFile(config, 'listen: ["0.0.0.0", "::"]\n');
    const { implicitPort, argv } = await serveArgv();
    argv.splice(argv.indexOf('--listen'), 2); // the config's list, not the helper's 127.0.0.1
    const child = spawn(
      process.execPath,
      [...argv, '--config', config, '--workers', '2', '--data-dir', path.join(dir, 'data2')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: dir } },
    );
    const exited = once(child, 'exit');
    try {
      const banner = await bannerOf(child, 90_000);
      assert.match(
        banner,
        // Wildcards as addresses they answer on, saying so (they printed 0.0.0.0 and [::]).
        new RegExp(
          `implicit  ftps://127\\.0\\.0\\.1:${implicitPort} \\(all IPv4 addresses\\), ftps://\\[::1\\]:${implicitPort} \\(all IPv6 addresses\\)\n`,
        ),
      );
      for (const host of ['127.0.0.1', '::1']) assert.match(await greeting(host, implicitPort), /Ferry/);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('--listen [::1] (as the banner prints it): the server listens on ::1', async () => {
    const server = await ServeProcess.start(
      ['--listen', '[::1]', '--workers', '1', '--data-dir', path.join(dir, 'data3')],
      dir,
    );
    try {
      assert.match(await greeting('::1', server.implicitPort), /Ferry/);
    } finally {
      await server.stop();
    }
  });

  test('listen: "[::1]" in ferry.yaml: the server listens on ::1', async () => {
    const config = path.join(dir, 'bracketed.yaml');
    await writeFile(config, 'listen: "[::1]"\n');
    const { implicitPort, argv } = await serveArgv();
    argv.splice(argv.indexOf('--listen'), 2); // the config's address, not the helper's 127.0.0.1
    const child = spawn(
      process.execPath,
      [...argv, '--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data4')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: dir } },
    );
    const exited = once(child, 'exit');
    try {
      await bannerOf(child, 90_000);
      assert.match(await greeting('::1', implicitPort), /Ferry/);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('--listen fe80::1 (link-local, no zone): refused saying it needs its interface, not a bare EINVAL', async () => {
    const { argv } = await serveArgv();
    argv.splice(argv.indexOf('--listen'), 2, '--listen', 'fe80::1');
    const child = spawn(process.execPath, [...argv, '--data-dir', path.join(dir, 'data6')], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HOME: dir },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.notEqual(code, 0, err);
    assert.match(err, /fe80::1 is a link-local address, which needs its interface: write fe80::1%eth0/);
    assert.doesNotMatch(err, /listen EINVAL/);
  });

  test('--listen [::1]:21 (a port inside): refused in one line naming it, exit 2', async () => {
    const child = spawn(
      process.execPath,
      [FERRY_MAIN, 'serve', '--allow-root', '--listen', '[::1]:21', '--data-dir', path.join(dir, 'data5')],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: dir } },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2, err);
    assert.equal(
      err,
      'ferry: --listen: expected an address like 127.0.0.1, :: or [::1] (the ports are --explicit-port and --implicit-port), got "[::1]:21".\n',
    );
  });
});
