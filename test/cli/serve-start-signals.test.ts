/**
 * Signals that reach `ferry serve` while it starts: a SIGHUP (systemctl reload, logrotate, just after
 * a restart) neither kills it nor is lost (one reload once it serves); a SIGTERM stops it cleanly
 * (exit 0, no worker left). The config file is a FIFO: the server's read of it waits for the test,
 * which signals it then, at a known point of its start.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { descendants } from '../support/proc.js';
import { alive, implicitSession, serveArgv, ServeProcess } from '../support/ferry-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-start-signals-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A FIFO for the config file, in a directory of its own; `text` is what each read of it gets. */
async function configFifo(name: string): Promise<{ fifo: string; text: string; dir: string }> {
  const own = path.join(dir, name);
  await mkdir(path.join(own, 'data'), { recursive: true });
  const fifo = path.join(own, 'ferry.yaml');
  execFileSync('mkfifo', [fifo]);
  return { fifo, text: `dataDir: ${path.join(own, 'data')}\n`, dir: own };
}

/**
 * Waits until the server opens the FIFO to read it (its start is there), runs `then`, and gives it
 * `text` to read.
 */
async function whenRead(fifo: string, text: string, then: () => void = () => {}): Promise<void> {
  const fh = await open(fifo, 'w'); // returns once a reader has opened it
  try {
    then();
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}

for (const workers of ['1', '2']) {
  test(
    `--workers ${workers}: a SIGHUP while it starts does not kill it; it serves, and reloads once`,
    {
      timeout: 120_000,
    },
    async () => {
      const { fifo, text } = await configFifo(`hup-${workers}`);
      const args = ['--workers', workers, '--config', fifo, '--user', 'a:pw-a'];
      const { server } = await ServeProcess.startWhile(args, dir, ({ child }) =>
        whenRead(fifo, text, () => child.kill('SIGHUP')),
      );
      try {
        await server.waitForLog(
          (l) => l.msg === 'SIGHUP came during the start: reloading now',
          'the kept SIGHUP is taken',
        );
        // The reload reads the config file again.
        await whenRead(fifo, text);
        await server.waitForLog(
          (l) => l.worker === undefined && l.msg === 'configuration reloaded',
          'the configuration reloaded',
        );
        const ftp = await implicitSession(server, 'a');
        await ftp.cmd('NOOP', 200);
        await ftp.close();
      } finally {
        assert.equal(await server.stop(), 0);
      }
    },
  );
}

/** `ferry serve` started, not waited for (it is stopped before it serves): `stopped` once it exits. */
async function spawnServe(
  args: readonly string[],
  nodeOptions: readonly string[] = [],
): Promise<{ child: ChildProcess; stopped: Promise<[number | null, NodeJS.Signals | null]> }> {
  const { argv } = await serveArgv();
  const child = spawn(process.execPath, [...nodeOptions, ...argv, ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stopped = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, stopped };
}

for (const workers of ['1', '2']) {
  test(
    `--workers ${workers}: a SIGTERM while it reads its config file stops it: exit 0`,
    {
      timeout: 120_000,
    },
    async () => {
      const { fifo, text } = await configFifo(`term-early-${workers}`);
      const r = await spawnServe(['--workers', workers, '--config', fifo, '--user', 'a:pw-a']);
      await whenRead(fifo, text, () => r.child.kill('SIGTERM'));
      assert.deepEqual(await r.stopped, [0, null]);
    },
  );
}

test(
  '--workers 2: a SIGTERM while its workers start stops it and them: exit 0, no worker left',
  {
    timeout: 120_000,
  },
  async () => {
    const own = path.join(dir, 'term-workers');
    await mkdir(path.join(own, 'data'), { recursive: true });
    const config = path.join(own, 'ferry.yaml');
    await writeFile(config, `dataDir: ${path.join(own, 'data')}\n`);
    // Each worker (its Node options are the primary's) first reads a FIFO: its start waits there.
    const hold = path.join(own, 'hold');
    execFileSync('mkfifo', [hold]);
    const preload = path.join(own, 'hold.mjs');
    await writeFile(
      preload,
      `import { readFileSync } from 'node:fs';\nif (process.env.FERRY_WORKER) readFileSync(${JSON.stringify(hold)});\n`,
    );
    const r = await spawnServe(
      ['--workers', '2', '--config', config, '--user', 'a:pw-a'],
      ['--import', preload],
    );
    const fh = await open(hold, 'w'); // a worker is starting: the primary waits for it in listen()
    try {
      const workers = descendants(r.child.pid ?? 0).map((p) => p.pid);
      assert.ok(workers.length >= 1, 'its workers, forked');
      r.child.kill('SIGTERM');
      assert.deepEqual(await r.stopped, [0, null]);
      for (const pid of workers) assert.equal(alive(pid), false, `process ${pid} left running`);
    } finally {
      await fh.close();
    }
  },
);
