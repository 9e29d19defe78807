/**
 * The client against a scripted plain FTP server (support/fake-ftp.ts) that behaves as some real
 * servers do:
 * - a 421 answer to any command ends the connection: the error carries the server's text, and
 *   nothing more is sent on it;
 * - REST + STOR empties the file (npm's ftp-srv 4.6.3): a resumed upload appends (APPE) at the
 *   remote size instead, and a remote size that does not add up afterwards fails it;
 * - MLST facts offered but off (pyftpdlib set to `type;perm`): the client selects the ones it reads
 *   with OPTS MLST; where it cannot, a size not reported is unknown (null), not 0, and a mirror
 *   still transfers the file;
 * - active mode refused for the client's address (behind NAT): the refusal, with what to do, and no
 *   PORT with the same address after an EPRT refused so;
 * - unix.mode as pyftpdlib writes it (`0o600`): read, so a mirror keeps a private file private;
 *   `ferry ls` shows a mode the server did not send as unknown, not a made-up one;
 * - a checksum (HASH, XSHA256) of a large file answered long after the reply timeout: the client
 *   waits as long as the file's size allows (checksum(), mirror --verify);
 * - an RNTO answered after several reply timeouts (a directory renamed on object storage): waited for.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { processUmask } from '../../src/client/umask.js';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { FerryError, ReplyError } from '../../src/errors.js';
import { DialogueLog, ferry } from './helpers.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

describe('the client against servers with quirks (a scripted server)', { timeout: 30_000 }, () => {
  const servers: FakeFtp[] = [];
  const log = new DialogueLog();
  let dir = '';

  after(async () => {
    for (const s of servers) await s.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  /** A local file of random bytes. */
  async function localFile(size: number): Promise<{ file: string; data: Buffer }> {
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-fake-server-'));
    const file = path.join(dir, `f${size}-${randomBytes(4).toString('hex')}`);
    const data = randomBytes(size);
    await writeFile(file, data);
    return { file, data };
  }

  async function serve(o: FakeFtpOptions = {}): Promise<FakeFtp> {
    const server = await FakeFtp.start(o);
    servers.push(server);
    return server;
  }

  const connect = (server: FakeFtp, extra: Partial<ClientOptions> = {}): Promise<FerryClient> =>
    server.connect({ log: log.log, ...extra });

  it('421 to any command is the end of the connection, with its reason; nothing more is sent', async () => {
    const atPwd = await serve({ answer: (verb) => (verb === 'PWD' ? '421 Timeout.' : undefined) });
    await assert.rejects(connect(atPwd), { name: 'ConnectionError', message: /421 Timeout\./ });
    assert.equal(atPwd.verbs.at(-1), 'PWD', log.dump());

    const atSize = await serve({ answer: (verb) => (verb === 'SIZE' ? '421 Timeout.' : undefined) });
    const client = await connect(atSize);
    await assert.rejects(client.get('a.bin', '/dev/null', { resume: true }), /421 Timeout\./);
    assert.equal(atSize.verbs.at(-1), 'SIZE', log.dump());
    assert.ok(client.closed);
    await assert.rejects(client.send('NOOP'), /421 Timeout\./);
    assert.equal(atSize.verbs.at(-1), 'SIZE');
  });

  it('a resumed upload appends at the remote size (APPE), never REST + STOR, and the file is whole', async () => {
    const server = await serve({ restStor: 'truncate' });
    const { file, data } = await localFile(300_000);
    server.files.set('big.bin', { data: data.subarray(0, 100_000), modified: new Date() });
    const client = await connect(server);
    const r = await client.put(file, 'big.bin', { resume: true });
    assert.equal(r.offset, 100_000);
    assert.equal(r.bytes, 200_000);
    assert.ok(server.files.get('big.bin')?.data.equals(data), log.dump());
    assert.ok(server.verbs.includes('APPE') && !server.verbs.includes('REST'), server.commands.join(' | '));
  });

  it('a resumed upload whose remote size does not add up afterwards fails (ERR_REMOTE)', async () => {
    let sizes = 0;
    const server = await serve({
      answer: (verb) => (verb === 'SIZE' && ++sizes === 2 ? '213 7' : undefined),
    });
    const { file, data } = await localFile(50_000);
    server.files.set('cut.bin', { data: data.subarray(0, 10_000), modified: new Date() });
    const client = await connect(server);
    await assert.rejects(
      client.put(file, 'cut.bin', { resume: true }),
      (err: unknown) =>
        err instanceof FerryError &&
        err.code === 'ERR_REMOTE' &&
        err.message.includes('the server says 7 bytes (SIZE), not 50000'),
    );
  });

  const pyftpdlib = {
    features: ['MLST type*;perm*;size;modify;unix.mode;'],
    facts: ['type', 'perm'],
  } as const;
  const modified = new Date('2026-01-02T03:04:05Z');

  it('MLST facts offered but off: OPTS MLST selects those the client reads; sizes and times are right', async () => {
    const server = await serve(pyftpdlib);
    server.files.set('big.bin', { data: Buffer.alloc(12_345, 1), modified });
    const client = await connect(server);
    assert.ok(
      server.commands.includes('OPTS MLST type;perm;size;modify;unix.mode;'),
      server.commands.join(' | '),
    );
    const [e] = await client.list();
    assert.equal(e?.size, 12_345, log.dump());
    assert.equal(e?.modified.getTime(), modified.getTime());

    // Every fact it reads already on (Ferry, pyftpdlib's defaults): no OPTS MLST.
    const on = await serve({ features: ['MLST type*;perm*;size*;modify*;unique;'] });
    await connect(on);
    assert.ok(!on.verbs.includes('OPTS'), on.commands.join(' | '));
  });

  it('OPTS MLST refused: a size not reported is unknown (null), not 0, and mirror transfers the file', async () => {
    const server = await serve({ ...pyftpdlib, answer: (verb) => (verb === 'OPTS' ? '501 no' : undefined) });
    server.files.set('big.bin', { data: Buffer.alloc(12_345, 1), modified });
    const client = await connect(server);
    const [e] = await client.list();
    assert.equal(e?.size, null, log.dump());
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-fake-server-'));
    const local = path.join(dir, 'mirror');
    for (let run = 0; run < 2; run++) {
      const r = await mirror(client, { direction: 'download', local, remote: '' });
      assert.deepEqual(r.files, ['big.bin'], 'neither size nor time known: sent each time');
    }
    assert.equal((await readFile(path.join(local, 'big.bin'))).length, 12_345);
  });

  // Active mode refused for its address (a client behind NAT sends one the server will not connect
  // to): the client stops at the refusal with what to do, instead of taking EPRT for unsupported and
  // sending the same address again with PORT.
  async function listActive(o: FakeFtpOptions): Promise<{ server: FakeFtp; err: unknown }> {
    const server = await serve(o);
    const client = await connect(server, { dataMode: 'active' });
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

  // A server hashing a large file says nothing until the digest: the reply comes after several reply
  // timeouts here (its timer starts once the command has arrived, after the client armed its own, so
  // a client that waits only its reply timeout always gives up first), well within what the size
  // allows (32 MiB at 10 MB/s: 3.4 s more).
  const REPLY_MS = 500;
  const huge = Buffer.alloc(32 << 20);
  const hugeSha = createHash('sha256').update(huge).digest('hex');
  const hashedLater = (text: string): Promise<string> =>
    new Promise((resolve) => setTimeout(() => resolve(text), 3 * REPLY_MS));

  for (const feature of ['HASH SHA-256*;MD5', 'XSHA256']) {
    it(`checksum() by ${feature.split(' ')[0]} waits past the reply timeout as the size (SIZE) allows`, async () => {
      const server = await serve({
        features: [feature, 'SIZE'],
        answer: (verb) =>
          verb === 'HASH'
            ? hashedLater(`213 SHA-256 0-${huge.length} ${hugeSha} huge.bin`)
            : verb === 'XSHA256'
              ? hashedLater(`250 ${hugeSha}`)
              : undefined,
      });
      server.files.set('huge.bin', { data: huge, modified });
      const client = await connect(server, { replyTimeoutMs: REPLY_MS });
      assert.deepEqual(await client.checksum('huge.bin'), { algorithm: 'SHA-256', hex: hugeSha }, log.dump());
      assert.ok(server.verbs.includes('SIZE'), server.commands.join(' | '));
      assert.equal((await client.send('NOOP')).code, 200); // the connection goes on
    });
  }

  it('mirror --verify of a large file waits for the HASH as the listing size allows (no SIZE)', async () => {
    const server = await serve({
      features: ['MLST type*;size*;modify*;', 'HASH SHA-256*'],
      answer: (verb) =>
        verb === 'HASH' ? hashedLater(`213 SHA-256 0-${huge.length} ${hugeSha} huge.bin`) : undefined,
    });
    server.files.set('huge.bin', { data: huge, modified });
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-fake-server-'));
    const local = await mkdtemp(path.join(dir, 'verify-'));
    await writeFile(path.join(local, 'huge.bin'), huge);
    const client = await connect(server, { replyTimeoutMs: REPLY_MS });
    const r = await mirror(client, { direction: 'download', local, remote: '', verify: true });
    assert.deepEqual([r.files, r.unchanged, r.verifiedBy], [[], 1, 'SHA-256'], log.dump());
    assert.ok(!server.verbs.includes('SIZE'), server.commands.join(' | '));
  });

  // A server on object storage renames a directory object by object: its RNTO may answer long after
  // an ordinary command would (Ferry on S3: 1,000 objects in 15-60 s).
  it('rename() waits for the RNTO reply past the reply timeout (RENAME_REPLY_FACTOR of them)', async () => {
    const server = await serve({
      answer: (verb) =>
        verb === 'RNFR'
          ? '350 Ready for RNTO.'
          : verb === 'RNTO'
            ? hashedLater('250 Rename successful.')
            : undefined,
    });
    const client = await connect(server, { replyTimeoutMs: REPLY_MS });
    await client.rename('big', 'moved');
    assert.deepEqual(server.verbs.slice(-2), ['RNFR', 'RNTO'], log.dump());
    assert.equal((await client.send('NOOP')).code, 200); // the connection goes on
  });

  // pyftpdlib writes unix.mode as Python's octal literal (`0o600`): a mirror keeps a private file
  // private, and `ferry ls` shows no mode it was not sent (`-?????????`, as `ls -l` shows one unknown).
  it('unix.mode=0o600 (pyftpdlib) is read: the mirrored copy is 0600; no mode sent is shown unknown', async () => {
    const server = await serve({
      features: ['MLST type*;size*;modify*;unix.mode*;'],
      facts: ['type', 'size', 'modify', 'unix.mode'],
    });
    server.files.set('key.pem', { data: Buffer.from('secret\n'), modified, mode: '0o600' });
    server.files.set('plain.txt', { data: Buffer.from('plain\n'), modified, mode: '0644' });
    server.files.set('bare.txt', { data: Buffer.from('bare\n'), modified, mode: '755' });
    server.files.set('unknown.txt', { data: Buffer.from('?\n'), modified });
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'ferry-fake-server-'));
    const local = await mkdtemp(path.join(dir, 'modes-'));
    const url = `ftp://u@127.0.0.1:${server.port}/`;
    const env = { FERRY_PASSWORD: 'p' };
    const m = await ferry(['mirror', '--allow-plain', url, local], env);
    assert.equal(m.code, EXIT.ok, m.stderr);
    const modeOf = async (name: string): Promise<number> => (await stat(path.join(local, name))).mode & 0o777;
    assert.equal(await modeOf('key.pem'), 0o600 & ~processUmask());
    assert.equal(await modeOf('plain.txt'), 0o644 & ~processUmask());
    assert.equal(await modeOf('bare.txt'), 0o755 & ~processUmask());

    const ls = await ferry(['ls', '--allow-plain', url], env);
    assert.equal(ls.code, EXIT.ok, ls.stderr);
    assert.match(ls.stdout, /^-rw------- .* key\.pem$/m);
    assert.match(ls.stdout, /^-rwxr-xr-x .* bare\.txt$/m);
    assert.match(ls.stdout, /^-\?{9} .* unknown\.txt$/m);
    const json = JSON.parse((await ferry(['ls', '--json', '--allow-plain', url], env)).stdout) as {
      name: string;
      mode: string | null;
    }[];
    assert.deepEqual(
      json.map((e) => [e.name, e.mode]),
      [
        ['bare.txt', '0755'],
        ['key.pem', '0600'],
        ['plain.txt', '0644'],
        ['unknown.txt', null],
      ],
    );
  });
});
