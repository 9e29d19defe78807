// `storage.s3` in the config against a real radosgw: settings and buckets checked at start with
// errors naming the key, and each home on the storage it names (default S3 home, s3:// home, local).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeleteBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/cli/config.js';
import { serveSetup, type ServeFlags, type ServeSetup } from '../../src/cli/serve-options.js';
import type { StorageBackend } from '../../src/storage/types.js';
import { put, readFile } from '../../src/storage/test-support.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import { ferryOk, runFerry } from '../support/ferry-process.js';
import { startFerry } from '../support/ferry.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let cephBucket: CephBucket;
let ceph: CephBucket['ceph'];
let admin: S3Client;
/** The gateway's credentials, as `ferry` and serveSetup read them. */
let env: CephBucket['env'];
let dir: string;
let homes: string;
let other: string;
let hash: string;

before(async () => {
  cephBucket = await startCephBucket('homes', {}, { memBytes: 512 * 1024 ** 2, more: ['other'] });
  ({ ceph, admin, env, bucket: homes } = cephBucket);
  other = cephBucket.more[0] ?? assert.fail('the second bucket');
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-s3-config-'));
  await mkdir(path.join(dir, 'carol'));
  hash = await testHash('pw');
});
after(async () => {
  await cephBucket?.close();
  await rm(dir, { recursive: true, force: true });
});

const flags = (config: string): ServeFlags => ({
  config,
  user: [],
  cert: [],
  key: [],
  clientCa: [],
  clientCrl: [],
  requireReuse: true,
  dataDir: path.join(dir, 'data'),
});

async function setupWith(s3: string, users = '', running?: ServeSetup): Promise<ServeSetup> {
  const file = path.join(dir, 'ferry.yaml');
  await writeFile(
    file,
    `storage:\n  s3:\n${s3}users:\n${users || `  - { name: alice, passwordHash: "${hash}" }\n`}`,
  );
  return serveSetup(flags(file), await loadConfig(file), undefined, undefined, {
    env,
    ...(running ? { running } : {}),
  });
}
const base = (): string => `    endpoint: ${ceph.endpoint}\n    forcePathStyle: true\n`;

describe('storage.s3 in the config (radosgw)', { timeout: 120_000 }, () => {
  test('settings and the bucket are checked at start; errors name the key', async () => {
    await assert.rejects(
      setupWith(`${base()}    bucket: ${homes}\n    partSize: 1000\n`),
      /ferry\.yaml: storage\.s3\.partSize: expected 5242880 \(5 MiB\)/,
    );
    await assert.rejects(
      setupWith(`${base()}    bucket: ${homes}\n    readAhead: 17\n`),
      /ferry\.yaml: storage\.s3\.readAhead: expected 0 to 16, got 17\./,
    );
    await assert.rejects(
      setupWith(`${base()}    bucket: no-such-bucket-x\n`),
      /ferry\.yaml: storage\.s3\.bucket: bucket "no-such-bucket-x" cannot be used/,
    );
    await assert.rejects(
      setupWith(`${base()}    bucket: ${homes}\n    secretAccessKey: wrong\n    accessKeyId: WRONG\n`),
      /storage\.s3\.bucket: bucket .* cannot be used: .*permission denied/,
    );
    await assert.rejects(
      setupWith(
        `${base()}    bucket: ${homes}\n`,
        `  - { name: bob, passwordHash: "${hash}", home: "s3://missing-bucket-y/x/" }\n`,
      ),
      /users\.0\.home: bucket "missing-bucket-y" cannot be used/,
    );
  });

  test('homes: absent → <prefix><username>/, s3://bucket/prefix/, or a local directory', async () => {
    const setup = await setupWith(
      `${base()}    bucket: ${homes}\n    prefix: users\n`,
      [
        `  - { name: alice, passwordHash: "${hash}" }`,
        `  - { name: bob, passwordHash: "${hash}", home: "s3://${other}/team/" }`,
        `  - { name: carol, passwordHash: "${hash}", home: carol }`,
        '',
      ].join('\n'),
    );
    try {
      const storageOf = (username: string, home: string) =>
        setup.options.storageFor({ username, home, readOnly: false });
      const accounts = setup.users.accounts;
      const home = (name: string): string => accounts.find((a) => a.username === name)?.home ?? '?';
      assert.equal(home('alice'), '');
      assert.equal(home('carol'), path.join(dir, 'carol'));
      await put(storageOf('alice', home('alice')), '/a.txt', 'alice file');
      await put(storageOf('bob', home('bob')), '/b.txt', 'bob file');
      await put(storageOf('carol', home('carol')), '/c.txt', 'carol file');
      const object = async (Bucket: string, Key: string): Promise<string> =>
        (await (await admin.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString()) ?? '';
      assert.equal(await object(homes, 'users/alice/a.txt'), 'alice file');
      assert.equal(await object(other, 'team/b.txt'), 'bob file');
      assert.equal(await readFile(storageOf('carol', home('carol')), '/c.txt'), 'carol file');
    } finally {
      await setup.users.store.close();
      setup.close();
    }
  });

  test('ferry users rescan counts an S3 home: the objects under its prefix, markers left out', async () => {
    const file = path.join(dir, 'rescan.yaml');
    const data = path.join(dir, 'rescan-data');
    await writeFile(
      file,
      `dataDir: ${data}\nstorage:\n  s3:\n${base()}    bucket: ${homes}\n    prefix: tenants\n`,
    );
    await ferryOk(
      [
        'users',
        'add',
        'dave',
        '--home',
        `s3://${homes}/tenants/dave/`,
        '--quota-size',
        '1M',
        '--password-stdin',
        '--config',
        file,
      ],
      'pw\n',
      env,
    );
    await ferryOk(
      [
        'users',
        'add',
        'erin',
        '--home',
        `s3://${other}/erin/`,
        '--quota-files',
        '9',
        '--password-stdin',
        '--config',
        file,
      ],
      'pw\n',
      env,
    );
    const putObject = (Bucket: string, Key: string, bytes: number) =>
      admin.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(bytes, 1) }));
    await putObject(homes, 'tenants/dave/a.bin', 1000);
    await putObject(homes, 'tenants/dave/sub/', 0); // a directory marker: no file
    await putObject(homes, 'tenants/dave/sub/b.bin', 24);
    await putObject(homes, 'tenants/dave/sub/deeper/c.bin', 2048);
    await putObject(homes, 'tenants/davey/not-his.bin', 5000); // a neighbour's prefix
    await putObject(other, 'erin/x.bin', 10);

    assert.equal(
      await ferryOk(['users', 'rescan', 'dave', '--config', file], undefined, env),
      'dave: 3 KiB in 3 files\n',
    );
    assert.equal(
      await ferryOk(['users', 'rescan', 'erin', '--config', file], undefined, env),
      'erin: 10 B in 1 files\n',
    );
    const shown = await ferryOk(['users', 'show', 'dave', '--config', file, '--json']);
    assert.deepEqual((JSON.parse(shown) as { usage?: unknown }).usage, { bytes: 3072, files: 3 });
  });

  test('an s3:// home whose bucket cannot be used: refused by users add/set; at start only that user is refused', async () => {
    const file = path.join(dir, 'badhome.yaml');
    const data = path.join(dir, 'badhome-data');
    await writeFile(file, `dataDir: ${data}\nstorage:\n  s3:\n${base()}    bucket: ${homes}\n`);
    const add = (name: string, home: string) =>
      runFerry(['users', 'add', name, '--home', home, '--password-stdin', '--config', file], 'pw\n', env);
    const r = await add('badhome', 's3://nonexistent-bucket-q/x/');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--home: bucket "nonexistent-bucket-q" cannot be used: .*no such file/);
    assert.equal((await add('goodhome', `s3://${other}/good/`)).code, 0);
    const later = await ceph.bucket('later'); // deleted below, behind Ferry's back
    assert.equal((await add('gone', `s3://${later}/g/`)).code, 0);
    const set = await runFerry(
      ['users', 'set', 'goodhome', '--home', 's3://nonexistent-bucket-q/y/', '--config', file],
      undefined,
      env,
    );
    assert.equal(set.code, 2, set.stderr);
    assert.match(set.stderr, /--home: bucket "nonexistent-bucket-q" cannot be used/);
    const listed = await ferryOk(['users', 'list', '--config', file]);
    assert.doesNotMatch(listed, /badhome/);
    assert.match(listed, new RegExp(`goodhome\\s+enabled\\s+s3://${other}/good/`));

    await admin.send(new DeleteBucketCommand({ Bucket: later }));
    const logs: { level: string; msg: string; obj: object }[] = [];
    const log =
      (level: string) =>
      (obj: object, msg = '') =>
        void logs.push({ level, msg, obj });
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const setup = await serveSetup(
      { ...flags(file), dataDir: data },
      await loadConfig(file),
      undefined,
      {
        ...logger,
        child: () => ({ ...logger, child: () => logger as never }),
      },
      { env },
    );
    const ts = await startFerry({
      authenticator: setup.options.authenticator,
      storageFor: setup.options.storageFor,
    });
    try {
      const refused = logs.filter((l) => l.level === 'error');
      assert.equal(refused.length, 1, JSON.stringify(logs));
      assert.equal(refused[0]?.msg, 'home unusable: logins refused');
      assert.equal((refused[0]?.obj as { user?: string }).user, 'gone');
      assert.match(JSON.stringify(refused[0]?.obj), new RegExp(`bucket \\\\"${later}\\\\" cannot be used`));
      const login = async (user: string): Promise<number> => {
        const ftp = await RawFtp.connect({ host: ts.host, port: ts.implicitPort, implicit: true });
        try {
          await ftp.expect(220);
          await ftp.cmd(`USER ${user}`, 331);
          return (await ftp.cmd('PASS pw')).code;
        } finally {
          await ftp.close();
        }
      };
      assert.equal(await login('gone'), 530);
      assert.equal(await login('goodhome'), 230);
      const failed = ts.logs.find((l) => l.msg === 'login failed');
      assert.match(JSON.stringify(failed?.obj), /home unusable: .*cannot be used/);

      // Added behind `ferry users`' back while serving: checked as it is reloaded, not at SIGHUP.
      const frankRefused = new Promise<void>((resolve) => {
        const push = logs.push.bind(logs);
        logs.push = (...lines) => {
          const n = push(...lines);
          if (
            lines.some(
              (l) => l.msg === 'home unusable: logins refused' && JSON.stringify(l.obj).includes('"frank"'),
            )
          )
            resolve();
          return n;
        };
      });
      const usersFile = path.join(data, 'users.yaml');
      const text = readFileSync(usersFile, 'utf8');
      await writeFile(
        usersFile,
        `${text.trimEnd()}\n  - name: frank\n    passwordHash: "${hash}"\n    home: s3://ferry-missing-q/frank/\n`,
      );
      await withDeadline(frankRefused, 10_000, 'the home unusable line for frank');
      assert.equal(await login('frank'), 530);
      assert.equal(await login('goodhome'), 230);
    } finally {
      await ts.close();
      await setup.users.store.close();
      setup.close();
    }
  });

  test('credentials missing or refused: ferry serve and users rescan say so', async () => {
    const file = path.join(dir, 'nocreds.yaml');
    const data = path.join(dir, 'nocreds-data');
    await writeFile(file, `dataDir: ${data}\nstorage:\n  s3:\n${base()}    bucket: ${homes}\n`);
    await ferryOk(['users', 'add', 'henry', '--password-stdin', '--config', file], 'pw\n');
    // No credentials anywhere the SDK looks (no ~/.aws, no instance metadata).
    const none = {
      HOME: dir,
      AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const serve = [
      'serve',
      '--config',
      file,
      '--listen',
      '127.0.0.1',
      '--explicit-port',
      '56417',
      '--implicit-port',
      '0',
      '--allow-root', // the tests may run as root
    ];
    const started = await runFerry(serve, undefined, none);
    assert.equal(started.code, 2, started.stderr);
    assert.match(started.stderr, /bucket ".*" cannot be used: .*no S3 credentials found/);
    const rescan = await runFerry(['users', 'rescan', 'henry', '--config', file], undefined, none);
    assert.notEqual(rescan.code, 0);
    assert.match(rescan.stderr, /no S3 credentials found/);
    const wrong = { ...none, AWS_ACCESS_KEY_ID: 'NOSUCHKEY', AWS_SECRET_ACCESS_KEY: 'wrong' };
    const refused = await runFerry(serve, undefined, wrong);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cannot be used: .*permission denied.*credentials/);
    const rescanned = await runFerry(['users', 'rescan', 'henry', '--config', file], undefined, wrong);
    assert.match(rescanned.stderr, /the S3 credentials were refused \(InvalidAccessKeyId\)/);
    assert.doesNotMatch(started.stderr + refused.stderr + rescanned.stderr, /wrong|NOSUCHKEY/);
    assert.equal(
      await ferryOk(['users', 'rescan', 'henry', '--config', file], undefined, env),
      'henry: 0 B in 0 files\n',
    );
  });

  test('a reload keeps the S3 connection when storage.s3 is unchanged, else closes the old one once idle', async () => {
    const conf = (extra = ''): string => `${base()}    bucket: ${homes}\n    prefix: reload\n${extra}`;
    const gateway = Number(new URL(ceph.endpoint).port);
    const others = socketsTo(gateway); // the test's own SDK client's
    const ours = (): number => socketsTo(gateway) - others;
    const first = await setupWith(conf());
    const alice = (s: ServeSetup): StorageBackend =>
      s.options.storageFor({ username: 'alice', home: '', readOnly: false });
    const before = alice(first); // the storage of a session from before the reloads
    let last = first;
    try {
      await put(before, '/one.txt', 'one');
      const open = ours();
      assert.ok(open >= 1, 'a kept-alive socket to the gateway');

      // Same storage.s3: the reloaded setup goes on with the same connection; nothing closes.
      const same = await setupWith(conf(), '', first);
      first.storage.retire(); // as a reload does
      await first.users.store.close();
      last = same;
      await put(alice(same), '/two.txt', 'two');
      assert.equal(ours(), open, 'the same sockets serve the new setup');

      // Changed: a new connection (its HeadBucket at setup opens one socket), the old one's close.
      const changed = await setupWith(conf('    maxAttempts: 3\n'), '', same);
      same.storage.retire();
      await same.users.store.close();
      last = changed;
      await until(() => ours() === 1);
      assert.equal(ours(), 1, 'only the new connection keeps a socket');
      // The session from before still works, each request on a socket closed after it.
      await put(before, '/three.txt', 'three');
      assert.equal(await readFile(before, '/three.txt'), 'three');
      await until(() => ours() === 1);
      assert.equal(ours(), 1, 'the old connection keeps no socket');
    } finally {
      await last.users.store.close();
      last.close();
    }
    await until(() => ours() === 0);
    assert.equal(ours(), 0, 'shutdown closes the last connection');
  });

  test('ferry users add without --home: the user is on storage.s3 at <prefix><name>/', async () => {
    const file = path.join(dir, 'default-home.yaml');
    const data = path.join(dir, 'default-home-data');
    await writeFile(
      file,
      `dataDir: ${data}\nstorage:\n  s3:\n${base()}    bucket: ${homes}\n    prefix: staff\n`,
    );
    await ferryOk(['users', 'add', 'frank', '--password-stdin', '--config', file], 'pw\n');
    const shown = JSON.parse(await ferryOk(['users', 'show', 'frank', '--config', file, '--json'])) as {
      home?: string;
    };
    assert.equal(shown.home, undefined, 'no home in the users file: the default one');
    assert.match(
      await ferryOk(['users', 'show', 'frank', '--config', file]),
      /home\s+\(default: storage\.s3 <prefix>frank\/\)/,
    );
    // The server gives it <prefix>frank/ in the bucket: what frank stores lands there.
    const ready = await serveSetup(
      { ...flags(file), dataDir: data },
      await loadConfig(file),
      undefined,
      undefined,
      {
        env,
      },
    );
    try {
      const account = ready.users.accounts.find((a) => a.username === 'frank');
      assert.equal(account?.home, '');
      await put(ready.options.storageFor({ username: 'frank', home: '', readOnly: false }), '/f.txt', 'hi');
      const got = await admin.send(new GetObjectCommand({ Bucket: homes, Key: 'staff/frank/f.txt' }));
      assert.equal(await got.Body?.transformToString(), 'hi');
    } finally {
      await ready.users.store.close();
      ready.close();
    }
    assert.equal(
      await ferryOk(['users', 'rescan', 'frank', '--config', file], undefined, env),
      'frank: 2 B in 1 files\n',
    );

    // Without storage.s3 there is no default home to give: --home is asked for, nothing is added.
    const local = path.join(dir, 'local.yaml');
    await writeFile(local, `dataDir: ${data}\n`);
    const r = await runFerry(['users', 'add', 'gina', '--password-stdin', '--config', local], 'pw\n');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--home: required for gina, unless --config names a config with storage\.s3/);
    assert.doesNotMatch(await ferryOk(['users', 'list', '--config', file]), /gina/);
  });
});

/** This namespace's established TCP connections to 127.0.0.1:`port` (from /proc/net/tcp). */
function socketsTo(port: number): number {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[2] === hex && f[3] === '01').length;
}

/** Lets the event loop turn (a socket comes free just after its response) until `ok`, a bounded number of times. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((resolve) => setImmediate(resolve));
}
