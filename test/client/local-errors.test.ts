/**
 * Failures of the local side are the client's ERR_LOCAL errors (LocalError, with the system code
 * and the original error as `cause`), never the server's consequent 426 nor a bare Node error: the
 * caller's own stream breaking or closed during put or get (or before the call: then nothing is
 * sent), and local files that cannot be opened. The
 * command line maps them to exit code 7 (local file error). The connection stays usable. Resuming
 * onto a file with more bytes than its source is no usage error (it was exit 2): `get -c` of a larger
 * local file is a local file error (7), `put -c` onto a larger remote file a remote one (6).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { LocalError } from '../../src/client/errors.js';
import { FerryError } from '../../src/errors.js';
import { EXIT, exitCodeFor } from '../../src/cli/client-exit-codes.js';
import { useFerryFixture } from './ferry-fixture.js';
import { DialogueLog, optionsOf } from './helpers.js';

const CHUNK = 65_536;

/** A local error with this cause message (or system code), exit code 7. */
function local(expected: { message?: string; systemCode?: string }) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof LocalError, `not a LocalError: ${String(err)}`);
    assert.equal(err.code, 'ERR_LOCAL');
    assert.equal(exitCodeFor(err), EXIT.local);
    assert.ok(err.cause instanceof Error);
    if (expected.message !== undefined) assert.equal(err.cause.message, expected.message);
    if (expected.systemCode !== undefined) assert.equal(err.systemCode, expected.systemCode);
    return true;
  };
}

describe('local failures are ERR_LOCAL errors', { timeout: 60_000 }, () => {
  const f = useFerryFixture('ferry-local-errors-');
  before(() => f.c.put(Readable.from([Buffer.alloc(128 * CHUNK)]), 'big.bin'));

  it("put: the source stream's own error, not the server's 426", async () => {
    let i = 0;
    const source = new Readable({
      read() {
        if (i++ < 5) this.push(Buffer.alloc(CHUNK));
        else this.destroy(new Error('source broke'));
      },
    });
    await assert.rejects(f.c.put(source, 'x.bin'), local({ message: 'source broke' }));
    assert.equal((await f.c.send('NOOP')).code, 200);
  });

  it('put: a stream in object mode giving objects: ERR_LOCAL, nothing stored, the connection goes on', async () => {
    // The socket's write threw from inside pipe(), uncaught: the caller's process ended.
    await assert.rejects(
      f.c.put(Readable.from([{ id: 1 }, { id: 2 }]), 'rows.json'),
      local({ message: 'The stream given to put() gave an object, not bytes (a Buffer or a string).' }),
    );
    assert.equal((await f.c.send('SIZE rows.json')).code, 550);
    // Buffers, byte views and strings in object mode are bytes (Readable.from makes such streams).
    const mixed = Readable.from([Buffer.from('ab'), new Uint8Array([99]), 'dé']);
    assert.equal((await f.c.put(mixed, 'mixed.bin')).bytes, 6);
    assert.equal((await f.c.send('SIZE mixed.bin')).lines[0], '6');
  });

  it("get: the destination stream's own error", async () => {
    let writes = 0;
    const sink = new Writable({
      write(_chunk, _enc, cb) {
        cb(++writes > 2 ? new Error('disk full') : null);
      },
    });
    await assert.rejects(f.c.get('big.bin', sink), local({ message: 'disk full' }));
    assert.equal((await f.c.send('NOOP')).code, 200);
  });

  it('a stream destroyed or failed before the call: ERR_LOCAL, nothing sent, the process lives', async () => {
    // The data connection was given up by resetting its TCP socket under the TLS socket (SIGSEGV);
    // then the transfer ran and failed with the server's 522 or 426.
    const log = new DialogueLog();
    const d = await FerryClient.connect({ ...(await optionsOf(f.ts)), log: log.log });
    try {
      const sent = log.lines.length;
      const sink = new PassThrough();
      sink.destroy();
      await assert.rejects(
        d.get('big.bin', sink),
        local({ message: 'The stream given to get() was closed before the download ended.' }),
      );
      const source = Readable.from([Buffer.from('x')]);
      source.destroy();
      await assert.rejects(
        d.put(source, 'destroyed.bin'),
        local({ message: 'The stream given to put() was closed before its end.' }),
      );
      const broken = new Readable({ read() {} });
      broken.on('error', () => {});
      broken.destroy(new Error('already broken'));
      await assert.rejects(
        d.put(broken, 'destroyed.bin', { onProgress: () => {} }),
        local({ message: 'already broken' }),
      );
      assert.deepEqual(log.lines.slice(sent), [], 'nothing was sent');
      assert.equal((await d.send('NOOP')).code, 200);
    } finally {
      await d.close();
    }
  });

  it('a source that has already ended (read before): ERR_LOCAL before STOR, no empty file made', async () => {
    // It was taken as an empty upload: STOR, 226, and the remote file emptied.
    const log = new DialogueLog();
    const d = await FerryClient.connect({ ...(await optionsOf(f.ts)), log: log.log });
    try {
      const sent = log.lines.length;
      const read = Readable.from([Buffer.from('abc')]); // destroyed after its end (autoDestroy)
      const kept = new Readable({ autoDestroy: false, read: () => void kept.push(null) });
      for (const source of [read, kept]) {
        source.resume();
        await once(source, 'end');
        await assert.rejects(
          d.put(source, 'ended.bin'),
          local({ message: 'The stream given to put() has already ended: nothing is left of it to upload.' }),
        );
      }
      assert.deepEqual(log.lines.slice(sent), [], 'nothing was sent');
      assert.equal((await d.send('SIZE ended.bin')).code, 550);
      await d.put(Readable.from([Buffer.from('abc')]), 'ended.bin'); // the connection goes on
      assert.equal((await d.send('SIZE ended.bin')).code, 213);
    } finally {
      await d.close();
    }
  });

  it('file streams that cannot open (no listener of their own): ERR_LOCAL, not an unhandled error', async () => {
    // The stream had no 'error' listener until the data connection was there: its ENOENT came
    // first, as an unhandled 'error' event that ended the process.
    await assert.rejects(
      f.c.put(createReadStream(path.join(f.dir, 'missing.csv')), 'missing.csv'),
      local({ systemCode: 'ENOENT' }),
    );
    await assert.rejects(
      f.c.get('big.bin', createWriteStream(path.join(f.dir, 'no-dir', 'f.bin'))),
      local({ systemCode: 'ENOENT' }),
    );
    assert.equal((await f.c.send('NOOP')).code, 200);
    assert.equal((await f.c.stat('big.bin')).size, 128 * CHUNK);
  });

  it('a local side of the wrong type (from JavaScript): ERR_USAGE, nothing sent, the connection stays usable', async () => {
    // put(Buffer) threw "local.on is not a function" with the transfer's reply still awaited: every
    // later call failed with ERR_BUSY, and close() crashed.
    const log = new DialogueLog();
    const d = await FerryClient.connect({ ...(await optionsOf(f.ts)), log: log.log });
    try {
      const usage = (text: string) => (err: unknown) =>
        err instanceof FerryError && err.code === 'ERR_USAGE' && err.message.includes(text);
      const sent = log.lines.length;
      await assert.rejects(
        d.put(Buffer.from('x') as unknown as Readable, 'b.bin'),
        usage('put(): the local side must be a file path (a string) or a Readable stream, not a Buffer'),
      );
      await assert.rejects(d.get('big.bin', {} as Writable), usage('not an Object'));
      await assert.rejects(d.get('big.bin', null as unknown as Writable), usage('not null'));
      await assert.rejects(
        d.put(Readable.from([Buffer.from('x')]), 7 as unknown as string),
        usage('A path must be a string, not a number'),
      );
      assert.deepEqual(log.lines.slice(sent), [], 'nothing was sent');
      assert.equal((await d.send('NOOP')).code, 200);
    } finally {
      await d.close();
    }
  });

  it('resume onto a larger file: get -c fails as a local file error, put -c as a remote one', async () => {
    const bigger = path.join(f.dir, 'bigger.bin');
    await writeFile(bigger, Buffer.alloc(128 * CHUNK + 1));
    await assert.rejects(
      f.c.get('big.bin', bigger, { resume: true }),
      local({
        message: `Cannot resume: the local file has ${128 * CHUNK + 1} bytes, more than the ${128 * CHUNK} of big.bin.`,
      }),
    );
    assert.equal((await stat(bigger)).size, 128 * CHUNK + 1, 'the local file is left as it was');
    const smaller = path.join(f.dir, 'smaller.bin');
    await writeFile(smaller, 'x');
    await assert.rejects(f.c.put(smaller, 'big.bin', { resume: true }), (err: unknown) => {
      assert.ok(err instanceof FerryError && err.code === 'ERR_REMOTE', String(err));
      assert.equal(exitCodeFor(err), EXIT.remote);
      return true;
    });
    assert.equal((await f.c.stat('big.bin')).size, 128 * CHUNK, 'the remote file is left as it was');
  });

  it('local files that cannot be opened: ENOENT, EISDIR', async () => {
    await assert.rejects(
      f.c.put(path.join(f.dir, 'missing', 'file'), 'b.bin'),
      local({ systemCode: 'ENOENT' }),
    );
    await assert.rejects(
      f.c.get('big.bin', path.join(f.dir, 'no-dir', 'x')),
      local({ systemCode: 'ENOENT' }),
    );
    await assert.rejects(f.c.get('big.bin', f.dir), local({ systemCode: 'EISDIR' }));
    assert.equal((await f.c.send('NOOP')).code, 200);
  });
});
