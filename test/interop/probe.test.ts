/**
 * `ferry probe` against Ferry (explicit and implicit) and the real peers (vsftpd and ProFTPD in
 * both modes, Pure-FTPd and pyftpdlib explicit, and a pyftpdlib that refuses PROT): each report's
 * verdicts must equal what that server is known to do (test/fixtures/probe/<case>.json, where
 * `matches` holds patterns some points' received text and detail must match; the README's "Probing
 * a server" explains every difference from Ferry), the exit code must follow them, and the
 * server's files must be as they were afterwards: untouched without --write, and with --write every
 * probe file deleted. Then what a probe reports when it cannot check everything: Ferry's defender
 * banning it midway (a third probe in a row), and an ftp:// URL without a user (login refused).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startFerry, type TestServer } from '../support/ferry.js';
import {
  REPO_ROOT,
  startPeerByName,
  startPyftpdlib,
  type FtpsPeer,
  type PeerName,
} from '../support/peers.js';
import { probeCli as probe } from '../support/probe.js';

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
  /** Point id → a regular expression its `received` and `detail` (joined by " | ") must match. */
  readonly matches?: Readonly<Record<string, string>>;
}

interface Report {
  schema: string;
  target: { security: string; user: string };
  groups: {
    id: string;
    points: { id: string; verdict: string; sent: string; received: string; detail?: string }[];
  }[];
  write: { cleanedUp: boolean } | null;
  summary: {
    conformant: boolean;
    complete: boolean;
    notCompleted: number;
    incomplete: string[];
  };
}

function pointsOf(r: Report): Report['groups'][number]['points'] {
  return r.groups.flatMap((g) => g.points);
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

function peerTarget(
  name: PeerName,
  implicit: boolean,
  start: () => Promise<FtpsPeer> = () => startPeerByName(name, { implicit }),
): () => Promise<Target> {
  return async () => {
    const p: FtpsPeer = await start();
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
  // PROT refused (534): a report all the same, PROT P failing and what needs protected data not
  // completed; --write too, since nothing can be uploaded (and so nothing is left behind).
  {
    name: 'pyftpdlib-prot-refused',
    write: true,
    start: peerTarget('pyftpdlib', false, () => startPyftpdlib({ refuseProt: true })),
  },
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
        const report = JSON.parse(r.stdout) as Report;
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
        for (const p of pointsOf(report)) {
          const pattern = fixture.matches?.[p.id];
          const text = `${p.received} | ${p.detail ?? ''}`;
          if (pattern !== undefined && !new RegExp(pattern).test(text))
            diffs.push(`${p.id}: ${JSON.stringify(text)} does not match /${pattern}/`);
        }
        for (const id of Object.keys(fixture.matches ?? {}))
          if (got[id] === undefined) diffs.push(`${id}: no such point`);
        assert.deepEqual(diffs, [], diffs.join('\n'));
        assert.equal(r.code, fixture.exit, r.stderr);
        assert.equal(report.summary.conformant && report.summary.complete, fixture.exit === 0);
        if (c.write) assert.equal(report.write?.cleanedUp, true);
        else assert.equal(report.write, null);
        assert.deepEqual(await snapshot(target.root), before);
      });
    });
  }

  describe('ferry-banned-midway', { timeout: 300_000 }, () => {
    let target: Target | undefined;
    before(async () => {
      // Ferry's defaults: the defender on, loopback not on its allow list.
      target = await ferryTarget(false)();
      await target.putFile('big.bin', randomBytes(32 << 20));
    });
    after(async () => {
      await target?.stop();
    });

    it("a third probe in a row, banned by Ferry's defender midway, reports the rest as not completed", async () => {
      assert.ok(target);
      const fixture = JSON.parse(
        await readFile(path.join(REPO_ROOT, 'test/fixtures/probe/ferry-explicit.json'), 'utf8'),
      ) as Fixture;
      // The probe's deliberate TLS failures score, but not the ClientHellos refused only for their
      // versions or suites (an old client's): three failed handshakes, 6 points a probe, so two
      // probes stay below the ban (15) and the third crosses it midway.
      for (const n of [1, 2]) {
        const earlier = await probe([target.url, '--json', '--ca', target.ca]);
        assert.equal(earlier.code, 0, `probe ${n}: ${earlier.stderr}`);
      }
      const third = await probe([target.url, '--json', '--ca', target.ca]);
      assert.notEqual(third.stdout, '', third.stderr);
      const report = JSON.parse(third.stdout) as Report;
      const points = pointsOf(report);
      const notCompleted = points.filter((p) => p.verdict === 'not-completed');
      assert.ok(notCompleted.length > 0, 'the third probe was not banned');
      const why =
        'server refused the connection: 421 Service not available: this address is temporarily banned.';
      for (const p of notCompleted) assert.equal(p.detail, why, p.id);
      // Every other point is what an unbanned probe finds: no 421 taken for a verdict.
      const wrong = points
        .filter((p) => p.verdict !== 'not-completed' && !accepted(fixture.verdicts[p.id], p.verdict))
        .map((p) => `${p.id}: ${p.verdict} (${p.received})`);
      assert.deepEqual(wrong, []);
      assert.equal(report.summary.complete, false);
      assert.equal(report.summary.notCompleted, notCompleted.length);
      assert.deepEqual(report.summary.incomplete, [why]);
      assert.equal(third.code, 3, 'exit code: the server refused the probe');
    });
  });

  describe('ftp-without-user', { timeout: 300_000 }, () => {
    let server: TestServer | undefined;
    before(async () => {
      // Loopback allowed: two probes' failed logins and TLS failures must not get it banned.
      server = await startFerry({ defender: { allow: ['127.0.0.0/8'] } });
    });
    after(async () => {
      await server?.close();
    });

    it('ftp://HOST/ reports TLS offered and what needs no login; the rest is not completed (login refused)', async () => {
      assert.ok(server);
      const url = `ftp://127.0.0.1:${server.explicitPort}/`;
      const ca = path.join(path.dirname(server.root), 'tls', 'cert.pem');
      const json = await probe([url, '--json', '--ca', ca]);
      assert.notEqual(json.stdout, '', json.stderr);
      const report = JSON.parse(json.stdout) as Report;
      assert.deepEqual(report.target, { ...report.target, security: 'none', user: 'anonymous' });
      const verdicts = Object.fromEntries(pointsOf(report).map((p) => [p.id, p.verdict]));
      for (const id of [
        'tls-offered',
        'feat-pbsz',
        'pbsz-before-auth-refused',
        'user-in-clear-refused',
        'tls-1.2',
        'ciphers-1.3',
        'certificate-chain',
        'renegotiation',
        'session-ticket-lifetime',
      ])
        assert.equal(verdicts[id], 'pass', id);
      for (const id of ['pbsz-prot-p', 'prot-c', 'data-full-handshake-refused', 'epsv', 'size', 'abor'])
        assert.equal(verdicts[id], 'not-completed', id);
      // What fails is only what fails for a logged-in probe too (Ferry's TLS points), no refusal.
      const ferry = JSON.parse(
        await readFile(path.join(REPO_ROOT, 'test/fixtures/probe/ferry-explicit.json'), 'utf8'),
      ) as Fixture;
      assert.deepEqual(
        pointsOf(report)
          .filter((p) => p.verdict === 'fail' && ferry.verdicts[p.id] !== 'fail')
          .map((p) => p.id),
        [],
      );
      assert.equal(report.summary.complete, false);
      assert.equal(report.summary.incomplete.length, 1);
      assert.match(report.summary.incomplete[0] ?? '', /^login refused: 530 /);
      assert.equal(json.code, 5, 'exit code: login refused');

      const text = await probe([url, '--ca', ca]);
      assert.equal(text.code, 5, text.stderr);
      // FERRY_PASSWORD exported for other commands' URLs: still anonymous, not a usage error.
      const withPassword = await probe([url, '--ca', ca], { FERRY_PASSWORD: 'secret' });
      assert.equal(withPassword.code, 5, withPassword.stderr);
      assert.equal(withPassword.stdout.split('\n')[0], text.stdout.split('\n')[0]);
      const lines = text.stdout.split('\n');
      assert.equal(
        lines[0],
        `ferry probe ${url} (plain FTP: is TLS offered? then explicit FTPS, as anonymous)`,
      );
      assert.ok(
        lines.some((l) => /^ {2}pass {2}tls-offered: /.test(l)),
        text.stdout,
      );
      assert.ok(
        lines.some((l) => /^ {2}n\/c {3}epsv: .*\(login refused: 530 /.test(l)),
        text.stdout,
      );
      assert.ok(
        lines.some((l) => l.startsWith('INCOMPLETE: points not checked: login refused: 530 ')),
        text.stdout,
      );
    });
  });
});
