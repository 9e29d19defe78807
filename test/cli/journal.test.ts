/**
 * Under systemd (JOURNAL_STREAM names the stream stdout is), each log line starts with its syslog
 * priority (sd-daemon(3): `<4>` warning, `<6>` info), so that `journalctl -p warning` filters; into a
 * file that is not the journal's stream, the lines stay plain JSON.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { bannerOf, ferryOk, serveArgv } from '../support/ferry-process.js';

let dir: string;
let data: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-journal-'));
  data = path.join(dir, 'data');
  await mkdir(path.join(dir, 'root'));
  // alice in the users file and on --user: a warning at start (the --user entry is used).
  await ferryOk(
    ['users', 'add', 'alice', '--home', path.join(dir, 'root'), '--password-stdin', '--data-dir', data],
    'pw\n',
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `ferry serve` with stdout into `out` and JOURNAL_STREAM = `stream`'s dev:inode; its log once stopped. */
async function serveInto(out: string, stream: string): Promise<string[]> {
  const fd = await open(out, 'a');
  const st = await stat(stream, { bigint: true });
  const { argv } = await serveArgv();
  const child = spawn(
    process.execPath,
    [...argv, '--root', path.join(dir, 'root'), '--data-dir', data, '--user', 'alice:pw', '--workers', '1'],
    { stdio: ['ignore', fd.fd, 'pipe'], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } },
  );
  try {
    await bannerOf(child);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    await fd.close();
  }
  return (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '');
}

test('log lines carry their syslog priority into the journal only', async () => {
  const journal = path.join(dir, 'journal');
  const lines = await serveInto(journal, journal);
  const shadowed = lines.find((l) => l.includes('users defined in the configuration'));
  assert.match(shadowed ?? '', /^<4>\{"level":40,/);
  assert.ok(
    lines.some((l) => /^<6>\{"level":30,.*"msg":"listening"/.test(l)),
    lines.join('\n'),
  );
  for (const l of lines) assert.match(l, /^<[2-7]>\{"level":/);

  // stdout is a file, JOURNAL_STREAM names another (systemd's StandardOutput=append:… sets none).
  const file = path.join(dir, 'ferry.log');
  const plain = await serveInto(file, journal);
  assert.ok(plain.some((l) => l.includes('users defined in the configuration')));
  for (const l of plain) assert.match(l, /^\{"level":/);
});
