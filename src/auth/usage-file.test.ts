import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { UsageFile } from './usage-file.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** usage.json on a real full disk: a 1 MiB tmpfs (mounting needs root, as CI has). */
describe('UsageFile on a full disk', { skip: !isRoot }, () => {
  let mount: string;
  let file: string;
  const fill = (): Promise<unknown> =>
    run('dd', ['if=/dev/zero', `of=${path.join(mount, 'fill')}`, 'bs=64k']).catch(() => {});
  const stored = async (): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'));

  before(async () => {
    mount = await mkdtemp(path.join(os.tmpdir(), 'ferry-usage-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    file = path.join(mount, 'usage.json');
  });
  after(async () => {
    await run('umount', [mount]).catch(() => {});
    await rm(mount, { recursive: true, force: true });
  });

  it('keeps what it cannot write, counted by get, and writes every change of two processes once there is room', async () => {
    // Two workers of one server: each its own UsageFile on the shared file.
    const [a, b] = [new UsageFile(file), new UsageFile(file)];
    await a.init('u', { bytes: 100, files: 1 });
    await fill();
    await a.add('u', { bytes: 10, files: 1 }); // resolves: never fails
    await b.add('u', { bytes: 1000, files: 1 });
    await a.add('u', { bytes: 5, files: 0 });
    assert.deepEqual(await stored(), { users: { u: { bytes: 100, files: 1 } } }, 'not written');
    assert.deepEqual(await a.get('u'), { bytes: 115, files: 2 }, 'counted in memory');
    assert.deepEqual(await b.get('u'), { bytes: 1100, files: 2 });
    // A first count that cannot be stored is counted too.
    assert.deepEqual(await a.init('v', { bytes: 7, files: 1 }), { bytes: 7, files: 1 });
    assert.deepEqual(await a.get('v'), { bytes: 7, files: 1 });

    await rm(path.join(mount, 'fill'));
    await Promise.all([a.flush(), b.flush()]);
    assert.deepEqual(await stored(), {
      users: { u: { bytes: 1115, files: 3 }, v: { bytes: 7, files: 1 } },
    });
    assert.equal(a.pending.size + b.pending.size, 0);
    assert.deepEqual(await a.get('u'), { bytes: 1115, files: 3 }, 'not counted twice');
  });

  it('close(): a last write; what it cannot write is told in a warning (how much, for how many users)', async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const noop = (): void => {};
    const logger: Logger = {
      debug: noop,
      info: noop,
      error: noop,
      warn: (obj, msg = '') => warnings.push({ obj: obj as Record<string, unknown>, msg }),
      child: () => logger,
    };
    const start = (await stored()) as { users: Record<string, { bytes: number; files: number }> };
    const a = new UsageFile(file, logger);
    await a.init('w', { bytes: 1, files: 1 });
    await fill();
    await a.add('w', { bytes: 10, files: 1 });
    await a.add('u', { bytes: 20, files: 2 });
    await a.close();
    assert.deepEqual(await stored(), { users: { ...start.users, w: { bytes: 1, files: 1 } } }, 'not written');
    const lost = warnings.find((w) => w.msg.startsWith('quota usage not written at shutdown'));
    assert.ok(lost, 'warned at close');
    assert.deepEqual(
      { users: lost.obj.users, bytes: lost.obj.bytes, files: lost.obj.files },
      { users: ['w', 'u'], bytes: 30, files: 3 },
    );
    assert.match(lost.msg, /30 bytes and 3 files of 2 users/);

    // With room, close() writes what is pending, and warns of nothing.
    const b = new UsageFile(file, logger);
    await b.add('w', { bytes: 5, files: 0 });
    await rm(path.join(mount, 'fill'));
    const before = warnings.length;
    await b.close();
    assert.deepEqual((await stored()) as unknown, { users: { ...start.users, w: { bytes: 6, files: 1 } } });
    assert.equal(b.pending.size, 0);
    assert.ok(!warnings.slice(before).some((w) => w.msg.includes('at shutdown')));
  });
});
