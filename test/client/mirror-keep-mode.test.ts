/**
 * An upload mirror gives unchanged remote files their local mode (SITE CHMOD), against a scripted
 * server: a 550 for one file is a note about that file, not the end of modes for the run; a SITE
 * CHMOD cut by a lost connection is asked again on a new one; a server that accepts SITE CHMOD but
 * lists its own fixed mode (checked once with MLST) is asked no more, so the mirror converges.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { mirror, type MirrorEvent, type MirrorOptions, type MirrorResult } from '../../src/client/mirror.js';
import { DialogueLog } from './helpers.js';
import { FakeFtp, type FakeFtpOptions } from './support/fake-ftp.js';

const modified = new Date('2024-01-02T03:04:05Z');
const FEATURES = ['MLST type*;size*;modify*;unix.mode*;'];
const FACTS = ['type', 'size', 'modify', 'unix.mode'];

describe('mirror keeps the modes of unchanged files (a scripted server)', { timeout: 30_000 }, () => {
  const servers: FakeFtp[] = [];
  const log = new DialogueLog();
  let dir = '';

  after(async () => {
    for (const s of servers) await s.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  /** A server holding a, b, c (0644) and a local tree of the same files, unchanged, at 0600. */
  async function setUp(o: FakeFtpOptions): Promise<{ server: FakeFtp; local: string }> {
    const server = await FakeFtp.start({ features: FEATURES, facts: FACTS, ...o });
    servers.push(server);
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'g2-mirror-keep-mode-'));
    const local = await mkdtemp(path.join(dir, 'up-'));
    for (const name of ['a', 'b', 'c']) {
      server.files.set(name, { data: Buffer.from(name), modified, mode: '0644' });
      await writeFile(path.join(local, name), name);
      await chmod(path.join(local, name), 0o600);
      await utimes(path.join(local, name), modified, modified);
    }
    return { server, local };
  }

  /** An upload mirror of `local` to the server's root, on a new connection; its result and events. */
  async function upload(
    server: FakeFtp,
    local: string,
    extra: Partial<MirrorOptions> = {},
  ): Promise<{ r: MirrorResult; events: MirrorEvent[] }> {
    const events: MirrorEvent[] = [];
    const client = await server.connect({ log: log.log });
    const r = await mirror(client, {
      direction: 'upload',
      local,
      remote: '',
      onEvent: (e) => events.push(e),
      ...extra,
    });
    return { r, events };
  }

  const chmods = (server: FakeFtp): string[] => server.commands.filter((c) => /^SITE CHMOD /i.test(c));
  const notes = (events: MirrorEvent[]): string[] =>
    events.flatMap((e) => (e.kind === 'note' ? [`${e.path}: ${e.message}`] : []));

  it('a 550 for one file is a note for it; the others still get their mode', async () => {
    const { server, local } = await setUp({
      answer: (verb, arg) =>
        verb === 'SITE' ? (arg.endsWith(' a') ? '550 Not yours.' : '200 ok') : undefined,
    });
    const { r, events } = await upload(server, local);
    assert.equal(r.unchanged, 3);
    assert.equal(chmods(server).length, 3, log.dump());
    assert.match(notes(events).join('\n'), /^a: mode not set: .*550 Not yours\./m);
  });

  it('a SITE CHMOD cut by a lost connection is asked again on a new one', async () => {
    let cut = false;
    const { server, local } = await setUp({
      answer: (verb) => {
        if (verb !== 'SITE') return undefined;
        if (cut) return '200 ok';
        cut = true;
        return '421 Restarting.';
      },
    });
    const { r, events } = await upload(server, local, {
      retries: 1,
      connect: () => server.connect({ log: log.log }),
    });
    assert.equal(r.unchanged, 3);
    assert.equal(events.filter((e) => e.kind === 'retry').length, 1, log.dump());
    assert.equal(chmods(server).length, 4, log.dump()); // a twice, then b and c
  });

  it('a server that accepts SITE CHMOD but keeps listing 0644 is asked once, and told of once', async () => {
    const { server, local } = await setUp({
      answer: (verb, arg) => {
        if (verb === 'SITE') return '200 ok';
        if (verb !== 'MLST') return undefined;
        const f = server.files.get(arg.replace(/^\//, ''));
        if (!f) return '550 no such file';
        return `250-Listing\r\n type=file;size=${f.data.length};modify=20240102030405;unix.mode=0644; ${arg}\r\n250 End`;
      },
    });
    for (let run = 0; run < 2; run++) {
      const before = chmods(server).length;
      const { events } = await upload(server, local);
      assert.equal(chmods(server).length - before, 1, log.dump());
      const told = notes(events);
      assert.equal(told.length, 1, told.join('\n'));
      assert.match(
        told[0] ?? '',
        /permissions not kept: the server accepted SITE CHMOD 0?600 but lists 0?644/,
      );
    }
  });
});
