/**
 * Virtual folders through `ferry serve` and `ferry users` (issue 9): a folder given with --folder
 * is served, shown by `ferry users show`, counted with the home by the quota and by `ferry users
 * rescan`; folders added or removed by `ferry users set` apply to a running session at its next
 * command; a folder that is not a directory is refused.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';

let dir: string;
let data: string;
let home: string;
let shared: string;
let extra: string;
let server: ServeProcess;

async function users(args: string[], input?: string): Promise<string> {
  const r = await ferryUsers(data, args, input);
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `ferry users …`, then the server re-reading the file and `sessions` sessions following it. */
async function change(args: string[], sessions = 0, input?: string): Promise<void> {
  const from = server.log.length;
  await users(args, input);
  await server.waitForLog((l) => l.msg === 'users file reloaded', `the reload after ${args.join(' ')}`);
  const followed = (): number =>
    server.log.slice(from).filter((l) => l.msg === 'session follows the changed account').length;
  if (sessions > 0) await server.waitForLog(() => followed() >= sessions, 'the session following the change');
}

async function session(): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login('dora', 'pw-dora');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

const names = async (ftp: RawFtp, dir = '.'): Promise<string[]> =>
  (await ftp.listing('NLST', dir))
    .split('\r\n')
    .filter((l) => l !== '')
    .sort();

describe('virtual folders with ferry serve and ferry users', { timeout: 180_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-folders-cli-'));
    data = path.join(dir, 'data');
    home = path.join(dir, 'dora');
    shared = path.join(dir, 'shared');
    extra = path.join(dir, 'extra');
    for (const d of [home, shared, extra]) await mkdir(d);
    await writeFile(path.join(home, 'h'), Buffer.alloc(100));
    await writeFile(path.join(shared, 's'), Buffer.alloc(200));
    await writeFile(path.join(extra, 'e'), Buffer.alloc(400));
    server = await ServeProcess.start(
      ['--workers', '1', '--data-dir', data, '--user', 'admin:admin-pw', '--root', dir],
      dir,
    );
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a folder that is not a directory is refused, naming the flag', async () => {
    const r = await ferryUsers(data, [
      'add',
      'x',
      '--home',
      home,
      '--folder',
      `/f=${path.join(dir, 'none')}`,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--folder: .*none is not a directory/);
  });

  test('a folder given as an s3:// URL is refused as not a host directory, the URL as written', async () => {
    const r = await ferryUsers(data, ['add', 'x', '--home', home, '--folder', '/s3=s3://ferry-shared/erin/']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--folder: s3:\/\/ferry-shared\/erin\/ is not a host directory: virtual folders are local directories/,
    );
  });

  test('served, shown, counted with the home, rescanned; set while a session runs', async () => {
    await change(
      [
        'add',
        'dora',
        '--home',
        home,
        '--folder',
        `/pub/shared=${shared}`,
        '--quota-size',
        '10K',
        '--password-stdin',
      ],
      0,
      'pw-dora\n',
    );
    assert.match(await users(['show', 'dora']), new RegExp(`folders\\s+/pub/shared=${shared}\\n`));
    assert.deepEqual(JSON.parse(await users(['show', 'dora', '--json'])).folders, { '/pub/shared': shared });

    const ftp = await session();
    try {
      assert.deepEqual(await names(ftp), ['h', 'pub']);
      assert.deepEqual(await names(ftp, '/pub/shared'), ['/pub/shared/s']);
      await ftp.store('/pub/shared/up', Buffer.alloc(300));
      assert.equal((await readFile(path.join(shared, 'up'))).length, 300);
      // The quota counts the home and the folder: 100 + 200 + 300.
      assert.deepEqual(JSON.parse(await users(['show', 'dora', '--json'])).usage, { bytes: 600, files: 3 });
      await ftp.cmd('RNFR /h', 350);
      assert.match(textOf(await ftp.cmd('RNTO /pub/shared/h', 553)), /across virtual folders/);

      // Put into the folder behind the server's back: counted by a rescan.
      await writeFile(path.join(shared, 'direct'), Buffer.alloc(50));
      assert.match(await users(['rescan', 'dora']), /^dora: 650 B in 4 files/);

      // A folder added while the session runs: there at its next command, and counted.
      await change(['set', 'dora', '--folder', `/extra=${extra}`], 1);
      assert.deepEqual(await names(ftp), ['extra', 'h', 'pub']);
      assert.deepEqual(await names(ftp, '/extra'), ['/extra/e']);
      assert.match(await users(['show', 'dora']), /usage not counted yet/); // other folders: recounted
      await ftp.store('/extra/up', Buffer.alloc(10));
      assert.deepEqual(JSON.parse(await users(['show', 'dora', '--json'])).usage, { bytes: 1060, files: 6 });

      // And one removed: gone from the session's tree (its files stay on disk).
      await change(['set', 'dora', '--folder', '/pub/shared='], 1);
      assert.deepEqual(await names(ftp), ['extra', 'h']);
      await ftp.cmd('CWD /pub/shared', 550);
      assert.match(await users(['show', 'dora']), new RegExp(`folders\\s+/extra=${extra}\\n`));
      assert.equal((await readFile(path.join(shared, 'up'))).length, 300);
    } finally {
      await ftp.close();
    }
  });
});
