import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const MODULE = new URL('./log-destination.js', import.meta.url).href;

/** A process that logs `lines` through createServerLogger to its stdout, then runs `after`. */
function logger(lines: number, after: string): ReturnType<typeof spawn> {
  const script = `
    const { createServerLogger, endServerLog } = await import(${JSON.stringify(MODULE)});
    const log = createServerLogger('info');
    for (let i = 0; i < ${lines}; i++) log.info({ i }, 'line');
    ${after}`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** The JSON lines the process has written so far, resolved once there are `n`. */
function collect(child: ReturnType<typeof spawn>, n: number): Promise<{ i: number; msg: string }[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
      const lines = text.split('\n').filter((l) => l !== '');
      if (lines.length >= n) resolve(lines.map((l) => JSON.parse(l) as { i: number; msg: string }));
    });
    child.once('exit', () => reject(new Error(`exited after ${JSON.stringify(text)}`)));
  });
}

test('lines held in the log batch reach the output on an idle server, with no later line to push them', async () => {
  // The process stays up and logs nothing more: only the flush timer can write the three lines.
  const child = logger(3, 'setInterval(() => {}, 60_000);');
  try {
    const lines = await collect(child, 3);
    assert.deepEqual(
      lines.map((l) => [l.i, l.msg]),
      [
        [0, 'line'],
        [1, 'line'],
        [2, 'line'],
      ],
    );
  } finally {
    child.kill();
  }
});

test('every line held in the log batch is written when the process exits at once', async () => {
  const child = logger(50, 'process.exit(0);');
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null]; // 'close': stdout read to its end
  assert.equal(code, 0);
  const lines = text.split('\n').filter((l) => l !== '');
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { i: number }).i),
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test('a process whose log output nobody reads any more ends at once after endServerLog', async () => {
  // The lines are still held (the batch is written after 200 ms) when the process ends. Without
  // endServerLog, pino's exit flush retried the failing write (EPIPE) every 100 ms for ever.
  const child = logger(3, 'await endServerLog(log); process.exit(0);');
  child.stdout?.destroy(); // nobody reads: every write is EPIPE
  let guard: NodeJS.Timeout | undefined;
  try {
    const [code] = (await Promise.race([
      once(child, 'exit'),
      new Promise((_, reject) => {
        guard = setTimeout(() => reject(new Error('the process did not end')), 20_000);
      }),
    ])) as [number | null];
    assert.equal(code, 0);
  } finally {
    clearTimeout(guard);
    child.kill('SIGKILL');
  }
});

test('client text in a log line reaches the output with no raw control character (C0, DEL, C1)', async () => {
  const user = 'a\x1b[31m\x7fb\u009b2Jc';
  const child = logger(0, `log.warn({ user: ${JSON.stringify(user)} }, 'login failed'); process.exit(0);`);
  const out: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  await once(child, 'close');
  const text = Buffer.concat(out).toString('utf8');
  assert.ok(text.endsWith('\n'), text);
  const raw = [...text.slice(0, -1)].filter((c) => /\p{Cc}/u.test(c));
  assert.deepEqual(raw, [], JSON.stringify(text));
  assert.equal((JSON.parse(text) as { user: string }).user, user, 'the same text once parsed');
});
