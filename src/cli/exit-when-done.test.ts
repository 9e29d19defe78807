import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./exit-when-done.js', import.meta.url));

/**
 * Runs `body` in a child Node process with exitWhenDone imported; resolves with its exit code and
 * stderr (code null: still running after 60 s, killed).
 */
async function run(body: string): Promise<{ code: number | null; stderr: string }> {
  const script = `import { exitWhenDone } from ${JSON.stringify(MODULE)};\nimport net from 'node:net';\n${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const limit = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(limit);
  return { code, stderr };
}

describe('exitWhenDone', () => {
  it('exits with the code, saying what was left open, when a handle still holds the event loop', async () => {
    const r = await run(`net.createServer().listen(0, '127.0.0.1', () => exitWhenDone(3, 50));`);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /still open after the command finished \(.*TCPServerWrap.*\); exiting/);
  });

  it('exits with the code when a socket Node can no longer close is left (a natural exit spins)', async () => {
    // A reset while the socket's FIN is pending fails and leaves its handle unclosable.
    const r = await run(`const s = net.createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => {
      const c = net.connect(s.address().port, '127.0.0.1', () => {
        c.on('error', () => {});
        c.end();
        c.resetAndDestroy();
        s.close();
        exitWhenDone(4, 60_000);
      });
    });`);
    assert.equal(r.code, 4);
  });

  it('lets the process end by itself, with the code and nothing said, when nothing is left open', async () => {
    const r = await run(`exitWhenDone(1, 60_000);`);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, '');
  });
});
