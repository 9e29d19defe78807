/**
 * `ferry serve` with a tiny command budget in its config file (maxCommandRate, maxCommandBurst,
 * defender.scores.commandFlood): a client that pipelines commands without reading is held back,
 * scored for each period its queue stays full, and banned like other abuse: its session gets
 * 421 and is closed, the replies before it all in order, and its address is refused at accept.
 * In one process and with workers (the worker scores, the primary bans and tells it). Awaited as
 * log lines and replies, never timed.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { floodCommands } from '../support/command-flood.js';
import { ServeProcess } from '../support/ferry-process.js';
import { socketClosed, waitEvent, withDeadline } from '../support/raw-ftp.js';

const FLOODER = '127.0.0.2';

let dir: string;
let root: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-command-rate-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  config = path.join(dir, 'ferry.yaml');
  // 20 a second after 5 at once: a flood period is 1 s; two of them (6 points each) ban.
  await writeFile(
    config,
    [
      'maxCommandRate: 20',
      'maxCommandBurst: 5',
      'defender:',
      '  threshold: 12',
      '  scores: { commandFlood: 6 }',
      '',
    ].join('\n'),
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const workers of ['1', '2']) {
  test(`--workers ${workers}: a pipelined flood over maxCommandRate is scored, banned and closed with 421`, async () => {
    const server = await ServeProcess.start(
      [
        '--workers',
        workers,
        '--config',
        config,
        '--user',
        'a:pw-a',
        '--data-dir',
        path.join(dir, `d${workers}`),
      ],
      root,
    );
    try {
      const flooder = await floodCommands({
        host: '127.0.0.1',
        port: server.explicitPort,
        tls: false,
        localAddress: FLOODER,
        count: 600,
      });
      try {
        const delayed = await server.waitForLog(
          (l) => l.msg?.startsWith('commands delayed') === true && l.remote === FLOODER,
          'commands delayed',
        );
        assert.equal(delayed.maxCommandRate, 20);
        const ban = await server.waitForLog(
          (l) => l.msg === 'address banned' && l.remote === FLOODER,
          'the flooder banned',
        );
        assert.equal(ban.last, 'command-flood');
        await withDeadline(socketClosed(flooder.socket), 30_000, 'the flooding session to be closed');
        assert.match(flooder.lines.at(-1) ?? '', /^421 .*banned/);
        assert.ok(flooder.answered.length > 5, `answered: ${flooder.answered.length}`);
        assert.deepEqual(
          flooder.answered,
          Array.from({ length: flooder.answered.length }, (_, i) => i),
          'every reply before the 421, in the order of the commands',
        );
        const told = server.log.filter(
          (l) => l.msg?.startsWith('command flood: the client') === true && l.remote === FLOODER,
        );
        assert.equal(told.length, 1, 'the flood is told once, not per command or period');
        assert.equal(told[0]?.level, 40);
      } finally {
        await flooder.close();
      }

      const again = net.connect({ host: '127.0.0.1', port: server.explicitPort, localAddress: FLOODER });
      again.on('error', () => {});
      let text = '';
      again.on('data', (d: Buffer) => (text += d.toString('latin1')));
      await waitEvent(again, 'close');
      assert.match(text, /^421 .*banned/);
    } finally {
      await server.stop();
    }
  });
}
