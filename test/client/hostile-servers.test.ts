/**
 * The client against hostile servers (a scripted plain-FTP server): an endless listing stops at
 * maxListingBytes, `120` replies without end before the greeting stop at the connect timeout, a
 * terminal escape in a name or a reply is never printed raw by a batch `get` nor by `--verbose`, and a mirror skips
 * (and reports) names it cannot mirror: a directory that lists itself, a name listed as a file and
 * as a directory, a name with a `/` or a line break; a subdirectory the server will not list fails
 * the mirror without stopping it or deleting anything.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { FerryError } from '../../src/errors.js';
import { probeCli } from '../support/probe.js';
import { ferry } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

interface Script {
  /** Sent on connecting (default: a 220 greeting). */
  readonly greet?: (sock: net.Socket) => void;
  /** An MLSD's lines for a directory, 'endless' (data without end), or a refusal (its reply). */
  readonly mlsd?: (dir: string) => readonly string[] | 'endless' | { readonly refuse: string };
  /** A RETR's refusal (the file is never sent). */
  readonly retr?: (file: string) => string;
}

/** A plain-FTP server that does what its script says: EPSV, MLSD and RETR, little else. */
class HostileFtp extends ScriptedServer {
  constructor(private readonly script: Script) {
    super();
  }

  async start(): Promise<string> {
    await this.listen();
    return `ftp://u@127.0.0.1:${this.port}`;
  }

  protected session(sock: net.Socket): void {
    const reply = (text: string): boolean => sock.write(`${text}\r\n`);
    let data: Promise<net.Socket> | undefined;
    if (this.script.greet) this.script.greet(sock);
    else reply('220 hostile');
    this.commandLines(sock, (verb, arg) => {
      if (this.common(sock, verb, reply)) return;
      switch (verb) {
        case 'FEAT':
          return reply('211-Features:\r\n MLST type*;size*;modify*;\r\n211 End');
        case 'TYPE':
        case 'OPTS':
          return reply('200 ok');
        case 'EPSV':
          data = this.epsv(reply);
          return;
        case 'MLSD': {
          const d = data;
          data = undefined;
          const listing = this.script.mlsd?.(arg) ?? [];
          if (!d) return reply('425 no EPSV');
          if (typeof listing === 'object' && 'refuse' in listing) {
            void d.then((s) => s.destroy());
            return reply(listing.refuse);
          }
          reply('150 here it comes');
          void d.then(async (s) => {
            if (listing === 'endless') {
              // 64 MiB, and then the connection stays open: the listing never ends. A data
              // connection the client resets gets a 426, as from a real server.
              s.once('close', () => reply('426 data connection closed'));
              const chunk = Buffer.from('type=file;size=1;modify=20240102030405; x.txt\r\n'.repeat(1000));
              let left = Math.ceil((64 * 1024 * 1024) / chunk.length);
              const more = (): void => {
                while (left > 0 && !s.destroyed && s.write(chunk)) left--;
              };
              s.on('drain', more);
              more();
              return;
            }
            s.end(listing.map((l) => `${l}\r\n`).join(''));
            if (!s.closed) await once(s, 'close');
            reply('226 done');
          });
          return;
        }
        case 'RETR':
          data = undefined;
          return reply(this.script.retr?.(arg) ?? '550 no such file');
        case 'ABOR':
          return reply('226 aborted');
        default:
          return reply('502 not scripted');
      }
    });
  }
}

const env = { FERRY_PASSWORD: 'p' };
const file = (name: string): string => `type=file;size=3;modify=20240102030405; ${name}`;
const dir = (name: string): string => `type=dir;modify=20240102030405; ${name}`;

describe('the client against hostile servers', { timeout: 60_000 }, () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-hostile-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it(
    'an endless listing fails with ERR_LIMIT at maxListingBytes (memory stays bounded)',
    { timeout: 20_000 },
    async () => {
      const server = new HostileFtp({ mlsd: () => 'endless' });
      const url = await server.start();
      try {
        const client = await FerryClient.connect(url, {
          password: 'p',
          allowPlain: true,
          maxListingBytes: 1024 * 1024,
        });
        try {
          await assert.rejects(client.list(''), (err: unknown) => {
            assert.ok(err instanceof FerryError, String(err));
            assert.equal(err.code, 'ERR_LIMIT');
            assert.match(err.message, /listing is larger than 1048576 bytes \(maxListingBytes\)/);
            return true;
          });
        } finally {
          await client.close();
        }
      } finally {
        await server.close();
      }
    },
  );

  it('120 replies without end before the greeting stop at the connect timeout (get, probe)', async () => {
    const server = new HostileFtp({
      greet: (sock) => {
        sock.write('120 wait a bit\r\n');
        server.every(100, () => sock.write('120 wait a bit\r\n'));
      },
    });
    const url = await server.start();
    try {
      const get = await ferry(
        ['get', '--allow-plain', '--quiet', '--timeout', '1', `${url}/x.txt`, tmp],
        env,
        20_000,
      );
      assert.equal(get.code, EXIT.connection, `exit ${get.code}\n${get.stderr}`);
      assert.match(get.stderr, /No greeting from 127\.0\.0\.1:\d+ within 1000 ms/);
      const probe = await probeCli(['--timeout', '1', url], env);
      assert.equal(probe.code, EXIT.connection, `exit ${probe.code}\n${probe.stdout}\n${probe.stderr}`);
    } finally {
      await server.close();
    }
  });

  it('--verbose prints what the server says escaped (get, probe)', async () => {
    // A bidi override in the greeting (it reorders the rest of the line on a terminal) and a
    // terminal escape in a 421, whose text the connection's closing note repeats.
    const server = new HostileFtp({
      greet: (sock) => sock.write('220 \u202eevil\r\n'),
      retr: () => '421 \x1b]2;PWNED\x07 bye',
    });
    const url = await server.start();
    try {
      const get = await ferry(
        ['get', '--allow-plain', '--verbose', '--retry', '0', `${url}/x.txt`, tmp],
        env,
      );
      const probe = await probeCli(['--verbose', '--timeout', '5', url], env);
      for (const [what, stderr] of [
        ['get', get.stderr],
        ['probe', probe.stderr],
      ] as const) {
        assert.ok(!/[\p{Cc}\p{Cf}]/u.test(stderr.replaceAll('\n', '')), `${what}: ${JSON.stringify(stderr)}`);
        assert.match(stderr, /^< 220 \\u202eevil$/m, what);
      }
      assert.match(get.stderr, /^\* Connection closed: .*\\u001b\]2;PWNED\\u0007 bye/m);
    } finally {
      await server.close();
    }
  });

  it('a batch get prints names and refusals from the server escaped', async () => {
    const evil = 'e\x1b]2;PWNED\x07\x1b[2J.txt';
    const server = new HostileFtp({
      mlsd: () => [file(evil), file('ecr\rx.txt')],
      retr: () => '550 no \x1b]2;PWNED\x07\x1b[2J way',
    });
    const url = await server.start();
    try {
      const r = await ferry(['get', '--allow-plain', `${url}/e*`, tmp], env);
      assert.ok(!/\p{Cc}/u.test((r.stderr + r.stdout).replaceAll('\n', '')), JSON.stringify(r.stderr));
      assert.match(
        r.stderr,
        /ferry: get \/?e\\u001b\]2;PWNED\\u0007\\u001b\[2J\.txt: .*: 550 no \\u001b\]2;PWNED\\u0007\\u001b\[2J way$/m,
      );
      // A line break in a name: skipped as unsafe, never sent (not a usage error).
      assert.match(r.stderr, /ferry: get \/?ecr\\rx\.txt: Unsafe file name from the server/);
      assert.ok(!server.commands.some((c) => c.includes('ecr')), server.commands.join('\n'));
      assert.notEqual(r.code, EXIT.usage);
    } finally {
      await server.close();
    }
  });

  it('a mirror skips and reports a directory that lists itself, a name listed twice, unsafe names', async () => {
    const server = new HostileFtp({
      mlsd: (d) =>
        d === 'm' || d === '/m'
          ? [file('ok.txt'), file('same.txt'), dir('same.txt'), file('../../x'), file('cr\rx'), dir('loop')]
          : // Every directory under loop lists another loop (a symbolic link loop shown as a directory).
            [dir('loop')],
      retr: () => '550 no',
    });
    const url = await server.start();
    try {
      const local = path.join(tmp, 'm');
      const r = await ferry(['mirror', '--allow-plain', '--dry-run', `${url}/m`, local], env);
      assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);
      const out = r.stdout + r.stderr;
      assert.match(out, /would transfer ok\.txt/);
      assert.match(out, /skipped same\.txt: listed 2 times by the server in one directory/);
      assert.match(out, /skipped \.\.\/\.\.\/x: unsafe file name from the server/);
      assert.match(out, /skipped cr\\rx: the name holds a line break/);
      assert.match(out, /skipped (loop\/){99}loop: more than 100 directory levels deep/);
      assert.match(out, /4 skipped/);
      assert.equal(server.commands.filter((c) => c.startsWith('MLSD')).length, 100);
      assert.deepEqual(await readdir(tmp).then((n) => n.includes('m')), false);
    } finally {
      await server.close();
    }
  });

  it('a subdirectory the server will not list: the mirror goes on with the rest, deletes nothing, fails', async () => {
    const server = new HostileFtp({
      mlsd: (d) => {
        const at = d.replace(/^\//, '');
        if (at === 'm') return [file('a.txt'), dir('bad'), dir('good')];
        if (at === 'm/bad') return { refuse: '550 Permission denied.' };
        return [file('b.txt')];
      },
    });
    const url = await server.start();
    try {
      const local = path.join(tmp, 'unlisted');
      await mkdir(path.join(local, 'bad'), { recursive: true });
      await writeFile(path.join(local, 'bad', 'keep.txt'), 'mine');
      await writeFile(path.join(local, 'extra.txt'), 'mine too');
      const r = await ferry(['mirror', '--allow-plain', '--delete', '--dry-run', `${url}/m`, local], env);
      const out = r.stdout + r.stderr;
      assert.equal(r.code, EXIT.remote, `exit ${r.code}\n${out}`);
      assert.match(out, /failed bad: .*550 Permission denied/);
      assert.match(out, /would transfer a\.txt/);
      assert.match(out, /would transfer good\/b\.txt/);
      assert.doesNotMatch(out, /^would delete /m);
      assert.match(
        out,
        /^Would transfer 2 file\(s\), 6 B; 1 directory not listed; would delete 0 \(deletions held back/m,
      );
      assert.equal(await readFile(path.join(local, 'bad', 'keep.txt'), 'utf8'), 'mine');
    } finally {
      await server.close();
    }
  });
});
