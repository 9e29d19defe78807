/**
 * `mirror` when the two trees disagree on what a path is, against Ferry's own server:
 * - a symbolic link in a local destination is never followed (neither to a file nor to a directory
 *   outside the target): without `delete` it is a failure of that entry (a type conflict), named
 *   once, with nothing under it; with `delete` the link itself is replaced;
 * - a file where the other side has a directory (either way) without `delete`: a failure of that
 *   entry, named once, saying --delete would replace it; the rest of the tree is still mirrored,
 *   then the mirror fails (exit 6 for a remote entry in the way, 7 for a local one), as lftp's does;
 * - a mirror whose remote root is a file: a usage error (exit 2), not `MKD …: 550 File exists`;
 * - a directory that became a file (either way) with `delete`: one deletion, nothing below it
 *   deleted a second time (also in a dry run, and from the `ferry mirror` command: exit 0);
 * - a destination file changed after the last mirror (same size, newer) is restored.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { FerryClient } from '../../src/client/client.js';
import type { FerryError } from '../../src/errors.js';
import { mirror, type MirrorEvent, type MirrorOptions } from '../../src/client/mirror.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { clientOf, ferry, type CliResult } from './helpers.js';

describe('mirror type conflicts and symbolic links against Ferry', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let client: FerryClient;
  let n = 0;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-conflicts-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  /** `ferry mirror ARGS…` against the server, its certificate pinned. */
  const mirrorCli = async (args: readonly string[]): Promise<CliResult> => {
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    const env = {
      HOME: home,
      FERRY_PASSWORD: ts.password,
      FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts'),
    };
    return ferry(['mirror', '--fingerprint', pin, ...args], env);
  };

  /** A fresh local directory and remote directory name for one case. */
  const fresh = async (): Promise<{ local: string; remote: string; outside: string }> => {
    n++;
    const local = path.join(home, `local-${n}`);
    const outside = path.join(home, `outside-${n}`);
    await mkdir(local);
    await mkdir(outside);
    await mkdir(path.join(ts.root, `r${n}`));
    return { local, remote: `r${n}`, outside };
  };
  const put = async (file: string, content: string): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  };
  const run = async (o: Omit<MirrorOptions, 'onEvent'>) => {
    const events: MirrorEvent[] = [];
    const result = await mirror(client, { ...o, onEvent: (e) => events.push(e) });
    const of = (kind: MirrorEvent['kind']): string[] =>
      events.filter((e) => e.kind === kind).map((e) => ('reason' in e ? `${e.path}: ${e.reason}` : e.path));
    return { result, skips: of('skip'), deletes: of('delete') };
  };
  /** A mirror expected to fail: its error and its `failed` events (`path: message`, conflicts only). */
  const failing = async (o: Omit<MirrorOptions, 'onEvent'>) => {
    const events: MirrorEvent[] = [];
    const error: unknown = await mirror(client, { ...o, onEvent: (e) => events.push(e) }).then(
      () => assert.fail('the mirror should fail'),
      (err: unknown) => err,
    );
    const conflicts = events.flatMap((e) =>
      e.kind === 'failed' && e.conflict === true ? [`${e.path}: ${(e.error as Error).message}`] : [],
    );
    const done = events.flatMap((e) => (e.kind === 'done' ? [e.path] : []));
    return { error, conflicts, done, skips: events.filter((e) => e.kind === 'skip') };
  };

  it('download: a local link to a file outside is not written through', async () => {
    const { local, remote, outside } = await fresh();
    await put(path.join(ts.root, remote, 'f.txt'), 'from the server');
    await put(path.join(ts.root, remote, 'g.txt'), 'g');
    await put(path.join(outside, 'secret.txt'), 'outside, keep me');
    await symlink(path.join(outside, 'secret.txt'), path.join(local, 'f.txt'));

    const plain = await failing({ direction: 'download', local, remote });
    assert.deepEqual(plain.conflicts, [
      'f.txt: a symbolic link is in the way of the file: --delete would replace it',
    ]);
    assert.equal((plain.error as FerryError).code, 'ERR_LOCAL');
    assert.deepEqual(plain.done, ['g.txt']);
    assert.equal(await readFile(path.join(outside, 'secret.txt'), 'utf8'), 'outside, keep me');
    assert.ok((await lstat(path.join(local, 'f.txt'))).isSymbolicLink());

    const replaced = await run({ direction: 'download', local, remote, delete: true });
    assert.deepEqual(replaced.deletes, ['f.txt']);
    assert.deepEqual(replaced.result.files, ['f.txt']);
    assert.ok((await lstat(path.join(local, 'f.txt'))).isFile(), 'the link itself was replaced');
    assert.equal(await readFile(path.join(local, 'f.txt'), 'utf8'), 'from the server');
    assert.equal(await readFile(path.join(outside, 'secret.txt'), 'utf8'), 'outside, keep me');
  });

  it('download: a local link to a directory outside: the subtree fails, named once', async () => {
    const { local, remote, outside } = await fresh();
    await put(path.join(ts.root, remote, 'a', 'x.txt'), 'x');
    await put(path.join(ts.root, remote, 'a', 'b', 'y.txt'), 'y');
    await put(path.join(ts.root, remote, 'z.txt'), 'z');
    await symlink(outside, path.join(local, 'a'));

    const plain = await failing({ direction: 'download', local, remote });
    assert.deepEqual(plain.conflicts, [
      'a: a symbolic link is in the way of the directory: --delete would replace it',
    ]);
    assert.deepEqual(plain.done, ['z.txt']);
    assert.deepEqual(await readdir(outside), [], 'nothing written outside the target');
    assert.equal(await readFile(path.join(local, 'z.txt'), 'utf8'), 'z');

    const replaced = await run({ direction: 'download', local, remote, delete: true });
    assert.deepEqual(replaced.deletes, ['a']);
    assert.ok((await lstat(path.join(local, 'a'))).isDirectory());
    assert.equal(await readFile(path.join(local, 'a', 'b', 'y.txt'), 'utf8'), 'y');
    assert.deepEqual(await readdir(outside), []);
  });

  it('download without delete: a local file where the remote has a directory fails that subtree only', async () => {
    const { local, remote } = await fresh();
    await put(path.join(ts.root, remote, 'd', 'f.txt'), 'f');
    await put(path.join(ts.root, remote, 'd', 'e', 'g.txt'), 'g');
    await put(path.join(ts.root, remote, 'zz.txt'), 'zz');
    await put(path.join(local, 'd'), 'a local file');

    const r = await failing({ direction: 'download', local, remote });
    assert.deepEqual(r.conflicts, ['d: a file is in the way of the directory: --delete would replace it']);
    assert.equal((r.error as FerryError).code, 'ERR_LOCAL');
    assert.deepEqual(r.skips, []);
    assert.deepEqual(r.done, ['zz.txt']);
    assert.equal(await readFile(path.join(local, 'd'), 'utf8'), 'a local file');
    assert.equal(await readFile(path.join(local, 'zz.txt'), 'utf8'), 'zz');
  });

  it('upload without delete: a remote file where the local tree has a directory fails that subtree only', async () => {
    const { local, remote } = await fresh();
    await put(path.join(local, 'd', 'f.txt'), 'f');
    await put(path.join(local, 'd', 'e', 'g.txt'), 'g');
    await put(path.join(local, 'zz.txt'), 'zz');
    await put(path.join(ts.root, remote, 'd'), 'a remote file');

    const r = await failing({ direction: 'upload', local, remote });
    assert.deepEqual(r.conflicts, ['d: a file is in the way of the directory: --delete would replace it']);
    assert.equal((r.error as FerryError).code, 'ERR_REMOTE');
    assert.deepEqual(r.done, ['zz.txt']);
    assert.equal(await readFile(path.join(ts.root, remote, 'd'), 'utf8'), 'a remote file');
    assert.equal(await readFile(path.join(ts.root, remote, 'zz.txt'), 'utf8'), 'zz');
  });

  it('ferry mirror without --delete after a file and a directory swapped: the entry fails, exit 6 up, 7 down', async () => {
    const { local, remote } = await fresh();
    // Uploaded: the remote has a file `page` where the local tree now has a directory.
    await put(path.join(local, 'page', 'index.html'), 'new page');
    await put(path.join(local, 'ok.txt'), 'ok');
    await put(path.join(ts.root, remote, 'page'), 'old page');
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}`;
    const up = await mirrorCli([local, url]);
    assert.equal(up.code, EXIT.remote, up.stderr);
    assert.match(
      up.stderr,
      /^failed page: a file is in the way of the directory: --delete would replace it$/m,
    );
    assert.match(up.stderr, /^Transferred 1 of 1 file\(s\), 2 B; 1 type conflict; 0 deleted\.$/m);
    assert.equal(await readFile(path.join(ts.root, remote, 'ok.txt'), 'utf8'), 'ok');

    // Downloaded the other way: the local tree has directories `page` (as before) and `swap` where
    // the server has files.
    await put(path.join(ts.root, remote, 'swap'), 'a file now');
    await put(path.join(local, 'swap', 'old.html'), 'old');
    const down = await mirrorCli([url, local]);
    assert.equal(down.code, EXIT.local, down.stderr);
    assert.match(down.stderr, /^failed swap: local file: a directory is in the way of the file: /m);
    assert.match(down.stderr, /; 2 type conflicts; 0 deleted\.$/m);
  });

  it('a directory kept by --exclude in the way of a file is a failure even with --delete', async () => {
    const { local, remote } = await fresh();
    await put(path.join(local, 'k'), 'a file now');
    await put(path.join(ts.root, remote, 'k', 'keep.log'), 'excluded');
    const r = await failing({ direction: 'upload', local, remote, delete: true, exclude: ['*.log'] });
    assert.deepEqual(r.conflicts, [
      'k: a directory is in the way of the file: it holds entries left out by --exclude, so --delete keeps it',
    ]);
    assert.equal(await readFile(path.join(ts.root, remote, 'k', 'keep.log'), 'utf8'), 'excluded');
  });

  it('a remote root that is a file: a usage error (exit 2) either way, not MKD 550', async () => {
    const { local, remote } = await fresh();
    await put(path.join(local, 'a.txt'), 'a');
    await put(path.join(ts.root, remote, 'single.txt'), 'one file');
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}/single.txt`;
    for (const args of [
      [local, url],
      [url, path.join(local, 'down')],
      ['-n', local, url],
    ]) {
      const r = await mirrorCli(args);
      assert.equal(r.code, EXIT.usage, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^ferry: The remote ${remote}/single\\.txt is a file, not a directory \\(`, 'm'),
      );
      assert.doesNotMatch(r.stderr, /MKD/);
    }
    assert.equal(await readFile(path.join(ts.root, remote, 'single.txt'), 'utf8'), 'one file');
  });

  it('upload with delete: a remote directory that became a local file is deleted once', async () => {
    const { local, remote } = await fresh();
    await put(path.join(ts.root, remote, 'q', 'in.txt'), 'in');
    await put(path.join(ts.root, remote, 'q', 'deeper', 'x'), 'x');
    await put(path.join(local, 'q'), 'now a file');

    const dry = await run({ direction: 'upload', local, remote, delete: true, dryRun: true });
    assert.deepEqual(dry.deletes, ['q']);
    assert.equal(dry.result.deleted, 1);

    const r = await run({ direction: 'upload', local, remote, delete: true });
    assert.deepEqual(r.deletes, ['q']);
    assert.equal(r.result.deleted, 1);
    assert.deepEqual(r.result.files, ['q']);
    assert.equal(await readFile(path.join(ts.root, remote, 'q'), 'utf8'), 'now a file');
  });

  it('download with delete: a local directory that became a remote file is deleted once', async () => {
    const { local, remote } = await fresh();
    await put(path.join(ts.root, remote, 'q'), 'now a file');
    await put(path.join(local, 'q', 'in.txt'), 'in');
    await put(path.join(local, 'q', 'deeper', 'x'), 'x');

    const dry = await run({ direction: 'download', local, remote, delete: true, dryRun: true });
    assert.deepEqual(dry.deletes, ['q']);

    const r = await run({ direction: 'download', local, remote, delete: true });
    assert.deepEqual(r.deletes, ['q']);
    assert.equal(r.result.deleted, 1);
    assert.equal(await readFile(path.join(local, 'q'), 'utf8'), 'now a file');
  });

  it('ferry mirror --delete tq URL/tqr after a directory became a file: exit 0, one deletion', async () => {
    const { local, remote } = await fresh();
    await put(path.join(ts.root, remote, 'q', 'in.txt'), 'in');
    await put(path.join(ts.root, remote, 'q', 'deeper', 'x'), 'x');
    await put(path.join(local, 'q'), 'now a file');
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}`;

    const dry = await mirrorCli(['-n', '--delete', local, url]);
    assert.equal(dry.code, EXIT.ok, dry.stderr);
    assert.match(dry.stderr, /^would delete q$/m);
    assert.match(dry.stderr, /would delete 1;/);

    const real = await mirrorCli(['--delete', local, url]);
    assert.equal(real.code, EXIT.ok, real.stderr);
    assert.match(real.stderr, /Transferred 1 file\(s\), 10 B; 1 deleted, 0 skipped\./);
    assert.equal(await readFile(path.join(ts.root, remote, 'q'), 'utf8'), 'now a file');
  });

  it('a destination file changed later (same size, newer) is restored, either way', async () => {
    const { local, remote } = await fresh();
    await put(path.join(ts.root, remote, 'f.txt'), 'original');
    const first = await run({ direction: 'download', local, remote });
    assert.deepEqual(first.result.files, ['f.txt']);

    // Edited locally an hour later, same size.
    const later = new Date((await stat(path.join(local, 'f.txt'))).mtimeMs + 3_600_000);
    await writeFile(path.join(local, 'f.txt'), 'EDITED!!');
    await utimes(path.join(local, 'f.txt'), later, later);
    const down = await run({ direction: 'download', local, remote });
    assert.deepEqual(down.result.files, ['f.txt']);
    assert.equal(await readFile(path.join(local, 'f.txt'), 'utf8'), 'original');

    // Edited on the server an hour later, same size: an upload mirror restores it.
    await writeFile(path.join(ts.root, remote, 'f.txt'), 'EDITED!!');
    await utimes(path.join(ts.root, remote, 'f.txt'), later, later);
    const up = await run({ direction: 'upload', local, remote });
    assert.deepEqual(up.result.files, ['f.txt']);
    assert.equal(await readFile(path.join(ts.root, remote, 'f.txt'), 'utf8'), 'original');
    const again = await run({ direction: 'upload', local, remote });
    assert.deepEqual(again.result.files, [], 'the times now agree');
  });

  it('upload: a file the server refuses (a TAB in its name) does not stop the others; nothing is deleted', async () => {
    const { local, remote } = await fresh();
    await put(path.join(local, 'a.txt'), 'a');
    await put(path.join(local, 'd', 'ta\tb.txt'), 'refused');
    await put(path.join(local, 'z.txt'), 'z');
    await put(path.join(ts.root, remote, 'extra.txt'), 'kept: the mirror failed');
    const events: MirrorEvent[] = [];
    await assert.rejects(
      mirror(client, { direction: 'upload', local, remote, delete: true, onEvent: (e) => events.push(e) }),
      /553/,
    );
    assert.deepEqual(
      events.filter((e) => e.kind === 'failed').map((e) => e.path),
      ['d/ta\tb.txt'],
    );
    assert.equal(await readFile(path.join(ts.root, remote, 'a.txt'), 'utf8'), 'a');
    assert.equal(await readFile(path.join(ts.root, remote, 'z.txt'), 'utf8'), 'z');
    assert.equal(await readFile(path.join(ts.root, remote, 'extra.txt'), 'utf8'), 'kept: the mirror failed');

    // The command names the file (its TAB escaped), goes on, and exits with the failure's code.
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}-cli`;
    const r = await mirrorCli([local, url]);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.match(r.stderr, /^failed d\/ta\\tb\.txt: STOR .*553/m);
    // The summary says what was done, as a batch's does (there was none after a failure).
    assert.match(r.stderr, /^Transferred 2 of 3 file\(s\), 2 B; 1 failed; 0 deleted\.$/m);
    assert.doesNotMatch(r.stderr, /\t/);
    assert.equal(await readFile(path.join(ts.root, `${remote}-cli`, 'z.txt'), 'utf8'), 'z');
  });

  it('upload: a line feed in a local name is escaped in the failure line, which stays one line', async () => {
    const { local, remote } = await fresh();
    await put(path.join(local, 'x\nvictim.txt'), 'refused');
    await put(path.join(local, 'ok.txt'), 'ok');
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}`;
    const r = await mirrorCli([local, url]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /^failed x\\nvictim\.txt: .*line break/m);
    assert.doesNotMatch(r.stderr, /^victim\.txt/m, 'the name goes on one line');
    assert.equal(await readFile(path.join(ts.root, remote, 'ok.txt'), 'utf8'), 'ok');
  });

  it("a local failure (the destination under a file) is the client's LocalError, as for get and put", async () => {
    const { local, remote } = await fresh();
    await writeFile(path.join(local, 'plain'), 'x');
    await assert.rejects(
      mirror(client, { direction: 'download', local: path.join(local, 'plain', 'below'), remote }),
      { name: 'LocalError', code: 'ERR_LOCAL', systemCode: 'ENOTDIR' },
    );
    await client.send('NOOP'); // still usable
  });

  it('download of a remote directory that is missing: exit 6, and no local directory is created', async () => {
    const { local, remote } = await fresh();
    const target = path.join(local, 'new', 'dst');
    await assert.rejects(
      mirror(client, { direction: 'download', local: target, remote: `${remote}/nothere` }),
      {
        name: 'ReplyError',
      },
    );
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${remote}/nothere`;
    const r = await mirrorCli([url, target]);
    assert.equal(r.code, EXIT.remote, r.stderr);
    assert.deepEqual(await readdir(local), [], 'nothing created');
  });
});
