/**
 * A LIST line the client cannot read is an entry it does not know, never one that is gone: a
 * download's `mirror --delete` keeps the local entries of that directory (with a note and a skip
 * each) where it deleted them.
 *
 * Names holding U+2028 (line separator) or U+2029 (paragraph separator) from a server without MLSD
 * (vsftpd: LIST only): `ferry get '…/*.txt'` fetches them (they vanished from the parsed listing,
 * skipped without a word) and `ferry mirror --delete` keeps their local copies (it deleted them).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { mirror, type MirrorEvent } from '../../src/client/mirror.js';
import { startVsftpd, type FtpsPeer } from '../support/peers.js';
import { ferry, type CliResult } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

const NAMES = ['line\u2028sep.txt', 'para\u2029sep.txt', 'plain.txt'];

describe('names with U+2028/U+2029 listed by LIST (vsftpd)', { timeout: 180_000 }, () => {
  let peer: FtpsPeer;
  let home: string;
  let base: string;
  let env: Record<string, string>;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-list-separators-'));
    peer = await startVsftpd();
    base = `ftpes://${peer.user}@${peer.host}:${peer.port}`;
    env = { HOME: home, FERRY_PASSWORD: peer.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
    for (const n of NAMES) await peer.putFile(`sep/${n}`, `${n}\n`);
  });
  after(async () => {
    await peer?.stop();
    await rm(home, { recursive: true, force: true });
  });

  const cli = (args: readonly string[]): Promise<CliResult> =>
    ferry([args[0] ?? '', '--ca', peer.certificate.certFile, '--quiet', ...args.slice(1)], env);
  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  it('get of a pattern fetches them', async () => {
    const out = path.join(home, 'got');
    await mkdir(out);
    ok(await cli(['get', `${base}/sep/*.txt`, out]));
    assert.deepEqual((await readdir(out)).sort(), [...NAMES].sort());
    for (const n of NAMES) assert.equal(await readFile(path.join(out, n), 'utf8'), `${n}\n`);
  });

  it('mirror --delete keeps their local copies', async () => {
    const local = path.join(home, 'mirrored');
    await mkdir(local);
    for (const n of NAMES) await writeFile(path.join(local, n), `${n}\n`);
    ok(await cli(['mirror', '--delete', `${base}/sep`, local]));
    assert.deepEqual((await readdir(local)).sort(), [...NAMES].sort());
  });
});

describe('mirror --delete and a LIST line the client cannot read', { timeout: 60_000 }, () => {
  let server: FakeFtp;
  let local: string;
  before(async () => {
    // A line of a form the client does not know (a month it cannot read): an entry all the same.
    server = await FakeFtp.start({ extraListLines: ['-rw-r--r-- 1 u g 4 Foo 02 03:04 odd.txt'] });
    server.files.set('a.txt', { data: Buffer.from('a\n'), modified: new Date('2024-01-02T03:04:00Z') });
    local = await mkdtemp(path.join(os.tmpdir(), 'ferry-unread-line-'));
  });
  after(async () => {
    await server?.close();
    await rm(local, { recursive: true, force: true });
  });

  it('keeps the local files of that directory, and says so', async () => {
    for (const n of ['odd.txt', 'gone.txt']) await writeFile(path.join(local, n), 'old\n');
    await mkdir(path.join(local, 'olddir'));
    await writeFile(path.join(local, 'olddir', 'x'), 'x\n');
    const events: MirrorEvent[] = [];
    const c = await server.connect();
    try {
      await mirror(c, {
        direction: 'download',
        local,
        remote: '',
        delete: true,
        onEvent: (e) => events.push(e),
      });
    } finally {
      await c.close();
    }
    assert.deepEqual((await readdir(local)).sort(), ['a.txt', 'gone.txt', 'odd.txt', 'olddir']);
    assert.deepEqual(await readdir(path.join(local, 'olddir')), ['x']);
    assert.deepEqual(
      events.filter((e) => e.kind === 'delete'),
      [],
    );
    const said = events.flatMap((e) =>
      e.kind === 'note' || e.kind === 'skip' ? [`${e.path}: ${e.kind}`] : [],
    );
    assert.deepEqual(said.sort(), [': note', 'gone.txt: skip', 'odd.txt: skip', 'olddir: skip']);
  });
});
