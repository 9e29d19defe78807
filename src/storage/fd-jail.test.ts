import assert from 'node:assert/strict';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FdJail, fdPath } from './fd-jail.js';

describe('fd paths', () => {
  it('reach the opened object through this process own descriptor directory', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-fdpath-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const fd = openSync(dir, 'r');
    t.after(() => closeSync(fd));
    // /proc/PID/fd rather than /proc/self/fd: one kernel lookup less for each of a listing's lstats.
    assert.equal(fdPath(fd), `/proc/${process.pid}/fd/${fd}`);
    assert.equal(readlinkSync(fdPath(fd)), realpathSync(dir));
  });

  it("keep reaching a pinned directory's own entries after it was replaced by a symlink leading out", async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'ferry-fdpath-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    mkdirSync(join(root, 'd'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(root, 'd', 'f'), 'in');
    writeFileSync(join(outside, 'f'), 'outside!');
    const jail = new FdJail(realpathSync(root));
    const d = await jail.pinDir(join(realpathSync(root), 'd'), 'list', '/d');
    t.after(() => d.close());
    renameSync(join(root, 'd'), join(root, 'moved'));
    symlinkSync(outside, join(root, 'd'));
    assert.equal(lstatSync(d.child('f')).size, 2, 'the pinned directory, not the one outside');
  });
});
