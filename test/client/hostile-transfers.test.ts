/**
 * The client's transfers against servers that lie or fail in the middle (a scripted implicit FTPS
 * server): a failure reply after a 110 mark, more data than announced, a reset data connection, a
 * control connection closed mid-download, a 226 to RETR with no data at all, a listing or a
 * download of unknown size cut by a bare TCP FIN. None may end in success, and each must fail as
 * what it is (its exit code).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { failureKind } from '../../src/client/errors.js';
import { FerryError, ReplyError } from '../../src/errors.js';
import { probeCli } from '../support/probe.js';
import { endData, useHostileServer, sendThenEnd, type Turn } from './support/hostile-server.js';

describe('client transfers against a lying or failing server', { timeout: 30_000 }, () => {
  const fx = useHostileServer('ferry-hostile-');
  const { log } = fx;

  const connect = (): Promise<FerryClient> => fx.server.connect({ log: log.log });

  it('a failure reply after a 110 mark fails a download and an upload (the mark is not final)', async () => {
    const client = await connect();
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok');
        const s = await t.data();
        if (s.readable) s.resume();
        await endData(s, Buffer.from('partial'));
        t.reply('110 MARK 7 = 7');
        t.reply('426 Transfer aborted: disk read error, file incomplete');
      },
    };
    await assert.rejects(
      client.get('f.bin', path.join(fx.dir, 'mark.bin')),
      (err: unknown) => err instanceof ReplyError && err.replyCode === 426,
      log.dump(),
    );
    await writeFile(path.join(fx.dir, 'up.bin'), 'hello');
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok');
        const s = await t.data();
        s.resume();
        await once(s, 'end');
        s.end();
        t.reply('110 MARK');
        t.reply('452 Insufficient storage: file not stored');
      },
    };
    await assert.rejects(
      client.put(path.join(fx.dir, 'up.bin'), 'up.bin'),
      (err: unknown) => err instanceof ReplyError && err.replyCode === 452,
      log.dump(),
    );
    assert.ok(!client.closed);
  });

  it('more data than the size announced fails at once, nothing beyond it written (also a lying REST)', async () => {
    const client = await connect();
    // SIZE 100, then 200 bytes: to a file (the TLS fast path) and to a stream.
    fx.server.script = {
      size: '213 100',
      transfer: async (t) => {
        t.reply('150 ok');
        await endData(await t.data(), Buffer.alloc(200, 'x'));
        t.reply('226 done');
      },
    };
    const isOverrun = (err: unknown): boolean =>
      err instanceof FerryError &&
      err.code === 'ERR_DATA_CONNECTION' &&
      /more than the (100|50) bytes announced/.test(err.message);
    const file = path.join(fx.dir, 'long.bin');
    await assert.rejects(client.get('f.bin', file, { onProgress: () => {} }), isOverrun, log.dump());
    const got: Buffer[] = [];
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        got.push(c);
        cb();
      },
    });
    await assert.rejects(client.get('f.bin', sink, { onProgress: () => {} }), isOverrun);
    assert.ok(Buffer.concat(got).length <= 100, `${Buffer.concat(got).length} bytes written`);

    // REST 50 accepted (350), then the whole 100 bytes from 0: the resumed file must not grow.
    const resumed = path.join(fx.dir, 'resumed.bin');
    await writeFile(resumed, Buffer.alloc(50, 'a'));
    fx.server.script = {
      size: '213 100',
      transfer: async (t) => {
        t.reply('150 ok');
        await endData(await t.data(), Buffer.alloc(100, 'y'));
        t.reply('226 done');
      },
    };
    await assert.rejects(client.get('f.bin', resumed, { resume: true }), isOverrun, log.dump());
    assert.deepEqual(await readFile(resumed), Buffer.alloc(50, 'a'));
    assert.ok(!client.closed);
  });

  it('a data connection reset mid-download is a transfer failure, not a local file error', async () => {
    const client = await connect();
    let received: () => void = () => {};
    const half = new Promise<void>((resolve) => (received = resolve));
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok (100 bytes)');
        const s = await t.data();
        s.write(Buffer.alloc(50, 'x'));
        await half;
        // Once the client has them: the TCP connection reset, no TLS close. The TLS socket's
        // destroy() destroys its TCP socket; the flag (resetAndDestroy()'s) makes that a reset.
        const raw = fx.server.raw.get(s) as net.Socket & { resetAndClosing?: boolean };
        raw.resetAndClosing = true;
        s.destroy();
        t.reply('226 done');
      },
    };
    const onProgress = (p: { bytes: number }): void => {
      if (p.bytes === 50) received();
    };
    const err = await client.get('f.bin', path.join(fx.dir, 'rst.bin'), { onProgress }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(failureKind(err), 'transfer', `${err.code}: ${err.message}\n${log.dump()}`);
    assert.match(err.message, /ECONNRESET/);
  });

  it('the control connection closed mid-download fails it at once (ERR_CLOSED), not at the data timeout', async () => {
    const client = await connect();
    fx.server.script = {
      transfer: async (t) => {
        t.reply('150 ok');
        const s = await t.data();
        s.write(Buffer.alloc(50, 'x'), () => t.closeControl()); // the data connection stays open
      },
    };
    await assert.rejects(
      client.get('f.bin', path.join(fx.dir, 'ctrl.bin')),
      (err: unknown) => err instanceof FerryError && err.code === 'ERR_CLOSED',
      log.dump(),
    );
  });

  it('226 to RETR with no 1xx and no data is a protocol error; the local file is kept', async () => {
    const client = await connect();
    fx.server.script = { transfer: (t) => t.reply('226 Transfer complete') };
    const file = path.join(fx.dir, 'old.bin');
    await writeFile(file, 'old content');
    await assert.rejects(
      client.get('f.bin', file),
      (err: unknown) => err instanceof FerryError && err.code === 'ERR_PROTOCOL',
      log.dump(),
    );
    assert.equal(await readFile(file, 'utf8'), 'old content');
  });
  // The close_notify case over TLS 1.2 only: a Node 20 TLS 1.3 server that ends a connection this
  // soon after its handshake loses its close_notify (the TCP shutdown overtakes the write of it, still
  // queued behind the session tickets: EPIPE), which the client rightly takes for a bare FIN.
  for (const [how, maxVersion] of [
    ['FIN', 'TLSv1.3'],
    ['FIN', 'TLSv1.2'],
    ['close_notify', 'TLSv1.2'],
  ] as const) {
    it(`a listing and a download of unknown size ended by ${how === 'FIN' ? 'a bare TCP FIN fail (they could be cut short)' : 'close_notify are whole'} (${maxVersion})`, async () => {
      const client = await connect();
      const end = (body: string) => async (t: Turn) => {
        t.reply('150 ok');
        const s = await t.data();
        sendThenEnd(s, fx.server.raw.get(s) as net.Socket, Buffer.from(body), how);
        await once(s, 'close');
        t.reply('226 done');
      };
      const line = '-rw-r--r-- 1 u g 4 Jan 01 00:00 a.txt\r\n';
      fx.server.script = { maxVersion, transfer: end(line) };
      const listed = client.list('dir');
      const file = path.join(fx.dir, `unknown-size-${how}.bin`);
      if (how === 'FIN') {
        const cut = (err: unknown): boolean =>
          err instanceof FerryError && failureKind(err) === 'transfer' && /close_notify/.test(err.message);
        await assert.rejects(listed, cut, log.dump());
        fx.server.script = { maxVersion, transfer: end('abcd') };
        await assert.rejects(client.get('f.bin', file), cut, log.dump());
      } else {
        assert.deepEqual(
          (await listed).map((e) => e.name),
          ['a.txt'],
          log.dump(),
        );
        fx.server.script = { maxVersion, transfer: end('abcd') };
        await client.get('f.bin', file);
        assert.equal(await readFile(file, 'utf8'), 'abcd');
      }
    });
  }
  it('ferry probe stops reading an endless listing at PROBE_MAX_DATA (memory stays bounded)', async () => {
    const ca = path.join(fx.dir, 'probe-ca.pem');
    await writeFile(ca, fx.server.certificate);
    fx.server.script = {
      transfer: async (t) => {
        if (!['LIST', 'MLSD', 'NLST'].includes(t.verb)) return t.reply('550 not here');
        t.reply('150 here it comes');
        const s = await t.data();
        s.once('close', () => t.reply('426 data connection closed'));
        const chunk = Buffer.from('type=file;size=1;modify=20240102030405; x.txt\r\n'.repeat(1000));
        let left = Math.ceil((64 * 1024 * 1024) / chunk.length); // then it stays open, never ending
        let sent = 0;
        const more = (): void => {
          for (; left > 0 && !s.destroyed; left--) {
            sent += chunk.length;
            fx.server.endlessSent = Math.max(fx.server.endlessSent, sent);
            if (!s.write(chunk)) return;
          }
        };
        s.on('drain', more);
        more();
      },
    };
    const url = `ftps://u@127.0.0.1:${fx.server.port}/`;
    const probe = await probeCli(['--ca', ca, '--timeout', '5', url], { FERRY_PASSWORD: 'p' });
    assert.ok(
      fx.server.endlessSent > 0,
      `no listing was asked for (exit ${probe.code}):\n${probe.stdout}\n${probe.stderr}`,
    );
    // Each listing stopped past 16 MiB, its connection closed, so the server could not hand TCP the
    // whole 64 MiB of any (before, the probe read them all and waited for more).
    assert.ok(fx.server.endlessSent < 48 * 1024 * 1024, `${fx.server.endlessSent} bytes sent`);
    // The probe's own stop is not a refusal: this server takes any data connection, so the checks
    // that a full handshake and another session are refused fail (they passed when the cap counted
    // as one), and so does the probe.
    assert.match(probe.stdout, /^\s*FAIL\s+data-full-handshake-refused/m, probe.stdout);
    assert.match(probe.stdout, /^\s*FAIL\s+data-other-session-refused/m, probe.stdout);
    assert.equal(probe.code, 1, probe.stderr);
  });
});
