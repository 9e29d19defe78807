/**
 * `ferry get` of several files and `ferry mirror` against a scripted server that fails now and
 * then as real ones do: a `425` for one data connection (ProFTPD's "Address already in use"), a
 * `421` that closes the control connection, a download cut short (`426` after some bytes). With
 * --retry (default 2) each is tried again, named on stderr, and a cut download continues with
 * REST; a 5xx is never retried, nor what cannot change (--disable-epsv over IPv6), and --retry 0
 * turns it off. Ctrl-C during a batch or a mirror prints what was and was not transferred before
 * exit 130.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { CLI, ferry } from './helpers.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

const env = { FERRY_PASSWORD: 'p' };
const FEATURES = ['MLSD', 'SIZE', 'REST STREAM'];

describe('ferry --retry and interrupted batches', { timeout: 120_000 }, () => {
  let tmp: string;
  const servers: FakeFtp[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-retry-'));
  });

  after(async () => {
    for (const s of servers) await s.close();
    await rm(tmp, { recursive: true, force: true });
  });

  /** A server with a.txt, b.txt and c.txt (distinct contents of some KiB). */
  async function server(
    o: FakeFtpOptions,
  ): Promise<{ server: FakeFtp; url: string; body: Map<string, Buffer> }> {
    const s = await FakeFtp.start({ features: FEATURES, ...o });
    servers.push(s);
    const body = new Map<string, Buffer>();
    for (const name of ['a.txt', 'b.txt', 'c.txt']) {
      const data = Buffer.from(`${name} `.repeat(3000));
      body.set(name, data);
      s.files.set(name, { data, modified: new Date('2024-01-02T03:04:05Z') });
    }
    return { server: s, url: `ftp://u@127.0.0.1:${s.port}`, body };
  }

  let dirs = 0;
  const dir = async (): Promise<string> => {
    const d = await mkdtemp(path.join(tmp, `d${dirs++}-`));
    return d;
  };

  /** Fails the first RETR of `name` with `reply` (a 421 closes the connection). */
  const onceFor = (name: string, reply: string): FakeFtpOptions['answer'] => {
    let done = false;
    return (verb, arg) => {
      if (verb !== 'RETR' || arg !== name || done) return undefined;
      done = true;
      return reply;
    };
  };

  it('get of several files: a 425 and a lost connection are retried, each named on stderr', async () => {
    let epsv = 0;
    const lost = onceFor('c.txt', '421 going away');
    const {
      server: s,
      url,
      body,
    } = await server({
      answer: (verb, arg) => {
        // EPSV 1 lists, 2 is a.txt's, 3 b.txt's.
        if (verb === 'EPSV' && ++epsv === 3) return '425 EPSV: Address already in use';
        return lost?.(verb, arg);
      },
    });
    const d = await dir();
    const r = await ferry(['get', '--allow-plain', `${url}/*.txt`, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    for (const [name, data] of body) assert.deepEqual(await readFile(path.join(d, name)), data, name);
    assert.match(r.stderr, /^retrying \/?b\.txt \(1 of 2\) after .*425 EPSV: Address already in use$/m);
    assert.match(r.stderr, /^retrying \/?c\.txt \(1 of 2\) after .*421 going away$/m);
    assert.match(r.stderr, /Transferred 3 of 3 file\(s\)/);
    // The 421 closed the first connection: the retry logged in again.
    assert.equal(s.verbs.filter((v) => v === 'PASS').length, 2);
  });

  it('a download cut short continues where it stopped (REST), and counts whole', async () => {
    let cut = false;
    const {
      server: s,
      url,
      body,
    } = await server({
      cut: (name) => {
        if (name !== 'b.txt' || cut) return undefined;
        cut = true;
        return 5000;
      },
    });
    const d = await dir();
    const r = await ferry(['get', '--allow-plain', `${url}/b.txt`, `${url}/a.txt`, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'b.txt')), body.get('b.txt'));
    assert.match(r.stderr, /^retrying \/?b\.txt \(1 of 2\) after .*426/m);
    assert.ok(s.commands.includes('REST 5000'), s.commands.join('\n'));
    const total = (body.get('a.txt')?.length ?? 0) + (body.get('b.txt')?.length ?? 0);
    assert.match(r.stderr, new RegExp(`Transferred 2 of 2 file\\(s\\), ${(total / 1024).toFixed(1)} KiB`));
  });

  it('get --disable-epsv over IPv6: fails at once, not retried (no passive mode can work there)', async () => {
    const { server: s, url } = await server({ host: '::1' });
    const six = url.replace('127.0.0.1', '[::1]');
    const d = await dir();
    const r = await ferry(['get', '--allow-plain', '--disable-epsv', `${six}/a.txt`, d], env);
    assert.equal(r.code, EXIT.transfer, r.stderr);
    assert.match(r.stderr, /EPSV is disabled \(--disable-epsv\), and PASV cannot work over IPv6/);
    assert.doesNotMatch(r.stderr, /retrying/);
    assert.equal(s.verbs.filter((v) => v === 'PASS').length, 1, s.commands.join('\n'));
  });

  it('mirror retries too', async () => {
    let epsv = 0;
    const { url, body } = await server({
      answer: (verb) => (verb === 'EPSV' && ++epsv === 3 ? '425 EPSV: Address already in use' : undefined),
    });
    const d = await dir();
    const r = await ferry(['mirror', '--allow-plain', `${url}/`, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    for (const [name, data] of body) assert.deepEqual(await readFile(path.join(d, name)), data, name);
    assert.match(r.stderr, /^retrying b\.txt \(1 of 2\) after .*425/m);
  });

  it('a mirror whose own connection a retry replaced (421) deletes its extras over a new one', async () => {
    let stors = 0;
    const { server: s, url } = await server({
      answer: (verb) => {
        if (verb === 'STOR' && ++stors === 1) return '421 going away';
        return verb === 'DELE' ? '250 deleted' : undefined;
      },
    });
    const d = await dir();
    await writeFile(path.join(d, 'a.txt'), 'a new a.txt');
    const r = await ferry(['mirror', '--allow-plain', '--delete', '--no-perms', d, `${url}/`], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stderr, /^retrying a\.txt \(1 of 2\) after .*421 going away$/m);
    assert.deepEqual(
      s.commands.filter((c) => c.startsWith('DELE')),
      ['DELE b.txt', 'DELE c.txt'],
    );
  });

  it('never retries a 5xx; --retry 0 retries nothing', async () => {
    const { url } = await server({
      answer: (verb, arg) => (verb === 'RETR' && arg.endsWith('c.txt') ? '550 no' : undefined),
    });
    const d = await dir();
    const r = await ferry(['get', '--allow-plain', `${url}/*.txt`, d], env);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.doesNotMatch(r.stderr, /retrying/);

    const { url: url2 } = await server({ answer: onceFor('b.txt', '425 cannot open') });
    const d2 = await dir();
    const r2 = await ferry(['get', '--allow-plain', '--retry', '0', `${url2}/*.txt`, d2], env);
    assert.equal(r2.code, EXIT.transfer, r2.stderr);
    assert.doesNotMatch(r2.stderr, /retrying/);
    assert.match(r2.stderr, /Transferred 2 of 3 file\(s\), .*; 1 failed\./);
  });

  /**
   * `ferry COMMAND SOURCE DIR` against a server whose RETR of c.txt never answers, with Ctrl-C once
   * it is sent.
   */
  const interrupted = async (
    command: 'get' | 'mirror',
    source: (url: string) => string,
  ): Promise<{ code: number | null; stderr: string }> => {
    let interrupt = (): void => {};
    const { url } = await server({
      answer: (verb, arg) => {
        if (verb !== 'RETR' || !arg.endsWith('c.txt')) return undefined;
        interrupt();
        return new Promise<string>(() => {}); // never answers: the transfer is in flight
      },
    });
    const args = [command, '--allow-plain', '--timeout', '2', source(url), await dir()];
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    interrupt = () => child.kill('SIGINT');
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  };

  it('Ctrl-C during a batch: the summary says what was and was not transferred, then exit 130', async () => {
    const { code, stderr } = await interrupted('get', (u) => `${u}/*.txt`);
    assert.equal(code, EXIT.interrupted, stderr);
    assert.match(stderr, /^Transferred 2 of 3 file\(s\), .*; interrupted: 1 not transferred\.$/m);
  });

  it('Ctrl-C during a mirror: the same kind of summary, the file cut short no failure, exit 130', async () => {
    const { code, stderr } = await interrupted('mirror', (u) => `${u}/`);
    assert.equal(code, EXIT.interrupted, stderr);
    assert.match(stderr, /^Transferred 2 of 3 file\(s\), .*; 0 deleted; interrupted: 1 not transferred\.$/m);
    assert.doesNotMatch(stderr, /failed c\.txt/);
  });
});
