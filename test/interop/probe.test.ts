/**
 * `ferry probe` against Ferry (explicit and implicit) and the real peers (vsftpd and ProFTPD in
 * both modes, Pure-FTPd and pyftpdlib explicit): each report's verdicts must equal what that server
 * is known to do (test/fixtures/probe/<case>.json; the README's "Probing a server" explains every
 * difference from Ferry), the exit code must follow them, and the server's files must be as they
 * were afterwards: untouched without --write, and with --write every probe file deleted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FERRY_MAIN } from '../support/ferry-process.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { REPO_ROOT, startPeerByName, type FtpsPeer, type PeerName } from '../support/peers.js';

interface Target {
  readonly url: string;
  readonly root: string;
  readonly ca: string;
  putFile(rel: string, data: Uint8Array | string): Promise<void>;
  stop(): Promise<void>;
}

interface Case {
  readonly name: string;
  readonly write: boolean;
  readonly start: () => Promise<Target>;
}

interface Fixture {
  readonly server: string;
  readonly exit: number;
  readonly verdicts: Readonly<Record<string, string | readonly string[]>>;
}

function ferryTarget(implicit: boolean): () => Promise<Target> {
  return async () => {
    const s: TestServer = await startFerry();
    const port = implicit ? s.implicitPort : s.explicitPort;
    return {
      url: `${implicit ? 'ftps' : 'ftpes'}://${s.user}:${s.password}@127.0.0.1:${port}/`,
      root: s.root,
      ca: path.join(path.dirname(s.root), 'tls', 'cert.pem'),
      putFile: async (rel, data) => {
        const { mkdir, writeFile } = await import('node:fs/promises');
        const file = path.join(s.root, rel);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, data);
      },
      stop: () => s.close(),
    };
  };
}

function peerTarget(name: PeerName, implicit: boolean): () => Promise<Target> {
  return async () => {
    const p: FtpsPeer = await startPeerByName(name, { implicit });
    return {
      url: `${implicit ? 'ftps' : 'ftpes'}://${p.user}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/`,
      root: p.root,
      ca: p.certificate.certFile,
      putFile: async (rel, data) => void (await p.putFile(rel, data)),
      stop: () => p.stop(),
    };
  };
}

const cases: readonly Case[] = [
  // Without --write: proves that probing changes nothing on the server.
  { name: 'ferry-explicit', write: false, start: ferryTarget(false) },
  { name: 'ferry-implicit', write: true, start: ferryTarget(true) },
  { name: 'vsftpd-explicit', write: true, start: peerTarget('vsftpd', false) },
  { name: 'vsftpd-implicit', write: true, start: peerTarget('vsftpd', true) },
  { name: 'proftpd-explicit', write: true, start: peerTarget('proftpd', false) },
  { name: 'proftpd-implicit', write: true, start: peerTarget('proftpd', true) },
  { name: 'pure-ftpd-explicit', write: true, start: peerTarget('pure-ftpd', false) },
  { name: 'pyftpdlib-explicit', write: true, start: peerTarget('pyftpdlib', false) },
];

/** Every file under `root` with its size and modification time, and every directory. */
async function snapshot(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = path.join(rel, e.name);
    if (e.isDirectory()) out.push(`${p}/`, ...(await snapshot(root, p)));
    else {
      const st = await stat(path.join(root, p));
      out.push(`${p} ${st.size} ${st.mtimeMs}`);
    }
  }
  return out.sort();
}

function probe(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [FERRY_MAIN, 'probe', ...args],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, maxBuffer: 16 << 20, timeout: 240_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A fixture's verdict, or the verdicts it accepts where the server's answer depends on timing
 * (pyftpdlib answers ABOR with 225, "no transfer in progress", until it has sent a first byte).
 */
function accepted(want: string | readonly string[] | undefined, got: string | undefined): boolean {
  return Array.isArray(want) ? got !== undefined && want.includes(got) : want === got;
}

describe('ferry probe', { concurrency: true }, () => {
  for (const c of cases) {
    describe(c.name, { timeout: 300_000 }, () => {
      let target: Target | undefined;
      before(async () => {
        target = await c.start();
        // Large enough that a RETR left unread is still running when ABOR or STAT comes.
        await target.putFile('big.bin', randomBytes(32 << 20));
        await target.putFile('small.txt', 'hello\n');
        await target.putFile('w/.keep', '');
      });
      after(async () => {
        await target?.stop();
      });

      it('reports what the server is known to do, and leaves its files as they were', async () => {
        assert.ok(target);
        const fixture = JSON.parse(
          await readFile(path.join(REPO_ROOT, 'test/fixtures/probe', `${c.name}.json`), 'utf8'),
        ) as Fixture;
        const before = await snapshot(target.root);
        const r = await probe([
          target.url,
          '--json',
          '--ca',
          target.ca,
          ...(c.write ? ['--write', 'w'] : []),
        ]);
        assert.notEqual(r.stdout, '', r.stderr);
        const report = JSON.parse(r.stdout) as {
          schema: string;
          groups: { id: string; points: { id: string; verdict: string; received: string }[] }[];
          write: { cleanedUp: boolean } | null;
          summary: { conformant: boolean };
        };
        assert.equal(report.schema, 'ferry-probe/1');
        const got: Record<string, string> = {};
        const seen: Record<string, string> = {};
        for (const g of report.groups)
          for (const p of g.points) {
            got[p.id] = p.verdict;
            seen[p.id] = p.received;
          }
        const diffs = Object.keys({ ...fixture.verdicts, ...got })
          .filter((id) => !accepted(fixture.verdicts[id], got[id]))
          .map(
            (id) =>
              `${id}: expected ${fixture.verdicts[id] ?? '-'}, got ${got[id] ?? '-'} (${seen[id] ?? ''})`,
          );
        assert.deepEqual(diffs, [], diffs.join('\n'));
        assert.equal(r.code, fixture.exit, r.stderr);
        assert.equal(report.summary.conformant, fixture.exit === 0);
        if (c.write) assert.equal(report.write?.cleanedUp, true);
        else assert.equal(report.write, null);
        assert.deepEqual(await snapshot(target.root), before);
      });
    });
  }
});
