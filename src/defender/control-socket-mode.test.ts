import assert from 'node:assert/strict';
import fsp, { lstat, mkdtemp, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import type { Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { controlRequest, openControlSocket } from './control-socket.js';

test('the control socket is never at its path with a mode others could use: bound privately, then linked', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-control-mode-'));
  const file = path.join(dir, 'control.sock');
  // What is at `file` when the socket is made private: a socket bound there would be open to all
  // (umask 0) until then.
  const atChmod: (number | undefined)[] = [];
  const chmod = fsp.chmod;
  fsp.chmod = async (p, mode) => {
    atChmod.push((await lstat(file).catch(() => undefined))?.mode);
    return chmod(p, mode);
  };
  syncBuiltinESMExports();
  const umask = process.umask(0);
  let server: Server | undefined;
  try {
    server = await openControlSocket(file, () => ({ ok: false, error: 'answered' }));
    assert.deepEqual(atChmod, [undefined]);
    assert.equal((await lstat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await controlRequest(file, { op: 'list' }), { ok: false, error: 'answered' });
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await assert.rejects(lstat(file), { code: 'ENOENT' }, 'closed: the socket is gone');
    assert.deepEqual(
      (await fsp.readdir(dir)).filter((n) => n !== 'control.sock'),
      [],
      'no private directory left',
    );
  } finally {
    server?.close();
    process.umask(umask);
    fsp.chmod = chmod;
    syncBuiltinESMExports();
    await rm(dir, { recursive: true, force: true });
  }
});
