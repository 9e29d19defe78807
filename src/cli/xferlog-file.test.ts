import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  statSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger, type Logger } from '../logger.js';
import type { TransferRecord } from '../server/options.js';
import { formatXferlog } from '../server/xferlog.js';
import { XferlogFile } from './xferlog-file.js';

const record: TransferRecord = {
  command: 'RETR',
  direction: 'download',
  path: '/a.txt',
  offset: 0,
  bytes: 1,
  ms: 1,
  result: 'ok',
  reply: 226,
  at: new Date(2026, 11, 3, 12, 0, 0),
  user: 'alice',
  remoteAddress: '192.0.2.10',
  type: 'I',
  sessionId: 's',
};

test('a relative transfer log stays where it was named, whatever the working directory is when it is reopened', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ferry-xferlog-'));
  const home = process.cwd();
  t.after(() => {
    process.chdir(home);
    rmSync(base, { recursive: true, force: true });
  });
  const started = join(base, 'started');
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(started);
  mkdirSync(elsewhere);
  process.chdir(started);
  const log = new XferlogFile('xfer.log', silentLogger);
  // As a listing borrows the working directory (storage/working-directory.ts) while a SIGHUP reopens it.
  process.chdir(elsewhere);
  // Enough lines that the replaced stream is still writing them when the new one is closed.
  for (let i = 0; i < 2000; i++) log.write(record);
  log.reopen();
  log.write(record);
  await log.close();
  assert.equal(log.path, join(started, 'xfer.log'));
  assert.equal(readFileSync(join(started, 'xfer.log'), 'utf8').split('\n').filter(Boolean).length, 2001);
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing written where the process happened to be');
});

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recording(into: Logged[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void into.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

test(
  'on a full disk transfer lines are lost, counted and logged once, never half written; with room again every line is whole and the log says so',
  { skip: process.getuid?.() !== 0 && 'mounting a small tmpfs needs root (as CI runs)' },
  async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'ferry-xferlog-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', base]);
    t.after(() => {
      execFileSync('umount', [base]);
      rmSync(base, { recursive: true, force: true });
    });
    const file = join(base, 'xferlog');
    const logged: Logged[] = [];
    const log = new XferlogFile(file, recording(logged));
    const write = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        log.write(record);
        await log.flushed(); // one write(2) each, as transfers come one by one
      }
    };
    await write(10);
    const fill = join(base, 'fill');
    try {
      writeFileSync(fill, Buffer.alloc(1024 * 1024));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    await write(60); // the file's last page fills up, one line is cut, the rest fail
    assert.ok(!readFileSync(file, 'utf8').endsWith('\n'), 'a line was cut by the full disk');
    const failed = logged.filter((l) => l.level === 'error');
    assert.equal(failed.length, 1, 'failures while the disk stays full are not logged one by one');
    assert.equal(failed[0]?.msg, 'cannot write the transfer log');

    rmSync(fill);
    log.reopen(); // SIGHUP before another transfer: the cut line is completed before the next one
    await write(5);
    const again = logged.filter((l) => l.msg === 'the transfer log is written again');
    assert.equal(again.length, 1);
    const lost = again[0]?.obj.lost;
    assert.ok(typeof lost === 'number' && lost > 0 && lost < 60, `lost: ${String(lost)}`);
    log.write(record);
    await log.close();

    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'the file ends with a whole line');
    assert.deepEqual(new Set(lines), new Set([formatXferlog(record)]), 'every line whole');
    assert.equal(lines.length + lost, 10 + 60 + 5 + 1);
  },
);

test('a reopen that cannot open the new file leaves the rotated one: lines are lost and counted until the file opens, tried at most once a second', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ferry-xferlog-reopen-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const file = join(base, 'xferlog');
  const rotated = join(base, 'xferlog.1');
  const logged: Logged[] = [];
  let clock = 0;
  const log = new XferlogFile(file, recording(logged), () => clock);
  const write = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) log.write(record);
    await log.flushed();
  };
  const lines = (f: string): number => readFileSync(f, 'utf8').split('\n').filter(Boolean).length;
  await write(3);

  renameSync(file, rotated);
  // What Ferry cannot open, even as root (logrotate's `create 0600 root root` refuses only a user).
  mkdirSync(file);
  log.reopen();
  const refused = logged.filter((l) => l.level === 'error');
  assert.equal(refused.length, 1);
  assert.equal(refused[0]?.msg, 'cannot write the transfer log');
  await write(2);
  clock += 1000; // tries again, still refused
  await write(2);
  rmSync(file, { recursive: true });
  await write(1); // within a second of the last try: not tried
  assert.equal(lines(rotated), 3, 'nothing more goes to the rotated file');
  assert.ok(!existsSync(file));

  clock += 1000;
  await write(4);
  await log.close();
  assert.equal(lines(rotated), 3, 'nothing more goes to the rotated file');
  assert.equal(lines(file), 4);
  const again = logged.filter((l) => l.msg === 'the transfer log is written again');
  assert.equal(again.length, 1);
  assert.equal(again[0]?.obj.lost, 5);
  assert.equal(
    logged.filter((l) => l.level === 'error').length,
    1,
    'the lost lines are logged at most once a minute',
  );
});

test('a stop during the start closed the log: giving it to the run-as user then does nothing (it warned EBADF, or chowned the file that took its descriptor)', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ferry-xferlog-stop-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const lines: Logged[] = [];
  const log = new XferlogFile(join(base, 'xfer.log'), recording(lines));
  await log.close(); // SIGTERM before the run-as drop
  const other = join(base, 'other');
  writeFileSync(other, '');
  const fd = openSync(other, 'r'); // likely the closed log's descriptor number again
  try {
    log.giveTo(54321, 54321);
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(lines, []);
  assert.equal(statSync(other).uid, process.getuid?.(), 'the file that took the number is not given away');
});
