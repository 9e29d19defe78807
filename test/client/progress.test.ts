/**
 * Progress on a terminal (defect 12 of issue 7): a finished transfer leaves its final line on
 * screen (it used to leave only control codes), notes are never lost, and the bars of a transfer
 * still running stay below the finished ones; a batch's final line counts a failed file as failed,
 * not done (it read `3/3 files … 66%` above `1 failed`). The renderer runs on a stand-in terminal;
 * `ferry get` and `ferry put` run under a pseudo-terminal (script(1)) against Ferry's server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { TerminalReporter, transferLine } from '../../src/cli/client-progress.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { CLI } from './helpers.js';
import { screenOf } from './support/screen.js';

function fakeTerminal(): { stream: PassThrough & { isTTY: true; columns: number }; output(): string } {
  const chunks: Buffer[] = [];
  const stream = Object.assign(new PassThrough(), { isTTY: true as const, columns: 120 });
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, output: () => Buffer.concat(chunks).toString('utf8') };
}

const run = promisify(execFile);

const FINAL = /^hello\.bin +\[\u2588{24}\] 100% \| 2\.00 KiB\/2\.00 KiB \| \S+ \S+\/s \| \d+s$/;

describe('progress on a terminal', () => {
  it('a finished transfer leaves its final line on screen, and notes are written', async () => {
    const t = fakeTerminal();
    const reporter = new TerminalReporter(t.stream);
    reporter.note('before the bar');
    const bar = reporter.bar('hello.bin', 2048);
    bar.update(1024, 2048);
    bar.update(2048, 2048);
    bar.done();
    reporter.note('after the bar');
    reporter.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const screen = screenOf(t.output());
    assert.equal(screen.length, 3, screen.join('\n'));
    assert.equal(screen[0], 'before the bar');
    assert.match(screen[1] ?? '', FINAL);
    assert.equal(screen[2], 'after the bar');
  });

  it('finished lines stay above the bars still running; stop clears only the running ones', async () => {
    const t = fakeTerminal();
    const reporter = new TerminalReporter(t.stream);
    const a = reporter.bar('a.bin', 100);
    const b = reporter.bar('b.bin', undefined);
    a.update(100, 100);
    b.update(10, undefined);
    a.done();
    reporter.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const screen = screenOf(t.output());
    assert.equal(screen.length, 1, screen.join('\n'));
    assert.match(screen[0] ?? '', /^a\.bin +\[\u2588{24}\] 100% \| 100 B\/100 B \|/);
  });

  it('the client commands load the progress bars only for a terminal (~20 ms of start-up otherwise)', async () => {
    const module = (name: string): string =>
      JSON.stringify(new URL(`../../src/cli/${name}.js`, import.meta.url).href);
    const script = `
      import { createRequire } from 'node:module';
      const { createReporter } = await import(${module('client-progress')});
      await import(${module('client-bundle')});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('cli-progress'));
      const before = loaded();
      createReporter({ quiet: false }).note('plain');
      const plain = loaded();
      process.stderr.isTTY = true;
      createReporter({ quiet: false }).stop();
      console.log(JSON.stringify([before, plain, loaded()]));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    assert.deepEqual(JSON.parse(stdout), [false, false, true]);
  });

  it('formats a transfer of unknown size without a bar', () => {
    const line = transferLine({ label: 'x', bytes: 2048, total: undefined, elapsedMs: 1000, finished: true });
    assert.match(line, /^x +2\.00 KiB \| 2\.00 KiB\/s \| 1s$/);
  });
});

describe('ferry get and put on a terminal', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let home: string;
  let ca: string;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-progress-'));
    ca = path.join(home, 'ca.pem');
    await writeFile(ca, (await testCertificate()).cert);
    await writeFile(path.join(home, 'hello.bin'), Buffer.alloc(2048, 7));
  });

  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  /** Runs ferry with stdin, stdout and stderr on a pseudo-terminal: its exit code and what it showed. */
  function onTerminal(args: readonly string[]): Promise<{ code: number; output: string }> {
    const quote = (a: string): string => `'${a.replaceAll("'", "'\\''")}'`;
    const commandLine = [process.execPath, CLI, ...args].map(quote).join(' ');
    return new Promise((resolve, reject) => {
      execFile(
        'script',
        ['-qec', commandLine, '/dev/null'],
        {
          cwd: home,
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, FERRY_PASSWORD: ts.password },
          timeout: 50_000,
          encoding: 'utf8',
        },
        (error, stdout) => {
          if (!error) resolve({ code: 0, output: stdout });
          else if (typeof error.code === 'number') resolve({ code: error.code, output: stdout });
          else reject(new Error(`${error.message}\n${stdout}`));
        },
      );
    });
  }

  for (const command of ['put', 'get'] as const) {
    it(`${command}: the bar stays on screen at the end`, async () => {
      const url = `ftpes://${ts.user}@localhost:${ts.explicitPort}/hello.bin`;
      const args =
        command === 'put' ? ['put', '--ca', ca, 'hello.bin', url] : ['get', '--ca', ca, url, 'copy.bin'];
      const { code, output } = await onTerminal(args);
      const screen = screenOf(output);
      assert.equal(code, EXIT.ok, screen.join('\n'));
      assert.ok(
        screen.some((l) => FINAL.test(l)),
        `the final line is on screen:\n${screen.join('\n')}`,
      );
    });
  }

  it('get of several files with one failing: the final line counts it, as the summary does', async () => {
    await mkdir(path.join(ts.root, 'three'));
    for (const name of ['a.bin', 'b.bin', 'c.bin'])
      await writeFile(path.join(ts.root, 'three', name), Buffer.alloc(1024, 1));
    // A directory where b.bin would land: its download fails (a local file error).
    await mkdir(path.join(home, 'out', 'b.bin'), { recursive: true });
    const url = `ftpes://${ts.user}@localhost:${ts.explicitPort}/three/*.bin`;
    const { code, output } = await onTerminal(['get', '--ca', ca, url, 'out']);
    const screen = screenOf(output);
    assert.equal(code, EXIT.local, screen.join('\n'));
    const bar = screen.find((l) => / files/.test(l)) ?? '';
    assert.match(
      bar,
      /^2\/3 files, 1 failed +\[\u2588{16}\u2591{8}\] {2}66% \| 2\.00 KiB\/3\.00 KiB \|/,
      screen.join('\n'),
    );
    assert.ok(screen.includes('Transferred 2 of 3 file(s), 2.00 KiB; 1 failed.'), screen.join('\n'));
  });
});
