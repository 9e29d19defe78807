/**
 * vsftpd lists recent files to the minute and has no MLSD: every unchanged same-size file within
 * its listed minute costs an MDTM at each run. With `parallel`, those are asked over the mirror's
 * connections at once (a round trip each, one after the other over one connection, was 90 s for
 * 3,000 files over a 30 ms link), and the connections opened for them carry the transfers after.
 */
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { peerSession } from '../support/peer-session.js';
import { connectToPeer, DialogueLog } from './helpers.js';

const FILES = 40;

/** 30 s into a minute an hour ago (LIST shows such a recent file as `Mon DD HH:MM`). */
const inMinute = (): Date => new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 + 30_000);

const mdtms = (lines: readonly string[]): number => lines.filter((l) => l.startsWith('> MDTM ')).length;

describe('mirror asks MDTM over its --parallel connections, vsftpd', { timeout: 120_000 }, () => {
  const ctx = peerSession();

  it('an unchanged tree within its listed minute: the MDTMs spread, each connection opened once', () =>
    ctx.withLog(async () => {
      const t = inMinute();
      for (let i = 0; i < FILES; i++)
        await utimes(await ctx.peer.putFile(`par/f${i}.txt`, `file ${i}`), t, t);
      const logs: DialogueLog[] = [];
      const connect = async (): Promise<FerryClient> => {
        const log = new DialogueLog();
        logs.push(log);
        return connectToPeer(ctx.peer, {}, log);
      };
      const local = path.join(ctx.home, 'par');
      const o = { direction: 'download', local, remote: 'par', parallel: 4, connect } as const;
      assert.equal((await mirror(ctx.client, o)).transferred, FILES);

      // Unchanged, but for one new file.
      await ctx.peer.putFile('par/new.txt', 'new');
      logs.length = 0;
      const from = ctx.log.lines.length;
      const again = await mirror(ctx.client, o);
      assert.deepEqual(again.files, ['new.txt']);
      assert.equal(again.unchanged, FILES);
      const perConnection = [mdtms(ctx.log.lines.slice(from)), ...logs.map((l) => mdtms(l.lines))];
      assert.equal(logs.length, 3, `three more connections, opened once: ${perConnection.join(', ')}`);
      // One per undecided file, and one for the new file's time; each connection took its share.
      assert.equal(
        perConnection.reduce((a, b) => a + b, 0),
        FILES + 1,
        perConnection.join(', '),
      );
      assert.ok(
        perConnection.every((n) => n > 0),
        `MDTMs per connection: ${perConnection.join(', ')}`,
      );
    }));
});
