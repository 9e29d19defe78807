/**
 * PostgreSQL as the shared store, against a real PostgreSQL 15 (a throwaway cluster, see
 * test/support/postgres.ts): two Ferry servers in this process stand for two nodes, each with its
 * own connections, sharing one database and one directory.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { openServingState } from '../../src/cli/shared-state.js';
import { Database } from '../../src/db/database.js';
import { PgCutUploads } from '../../src/db/cut-uploads.js';
import { CUT_LOCK } from '../../src/db/migrations.js';
import { PgSessions } from '../../src/db/sessions.js';
import { PgUsage } from '../../src/db/usage.js';
import { FerryError } from '../../src/errors.js';
import { CUT_TTL_MS, CutUploads, cutKey } from '../../src/server/cut-uploads.js';
import { LocalStorage } from '../../src/storage/local.js';
import { withLimits } from '../../src/storage/limited.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import { resolveVPath, ROOT } from '../../src/storage/virtual-path.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { CutRecord } from '../../src/shared-cut-uploads.js';
import { usePostgres } from '../support/postgres.js';
import { addUser, startNode, tryLogin, type Node } from '../support/pg-node.js';
import { loggedIn, MODES, randomData, storeAll, textOf, waitForLog } from '../e2e/harness.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { uploadUnderWay } from '../support/ftps-session.js';

/** Resolves once `node`'s account store reports a change of `name` (from any node). */
function changeSeen(node: Node, name: string): Promise<void> {
  return new Promise((resolve) => {
    const off = node.shared.accounts.onChange((names) => {
      if (names.includes(name)) {
        off();
        resolve();
      }
    });
  });
}

describe('PostgreSQL shared state (real PostgreSQL 15)', () => {
  const fx = usePostgres('ferry-pg-homes-', undefined, { own: true }); // stops and starts the server

  test('migrations: nodes starting at once migrate once (advisory lock), at the latest version', async () => {
    const dbs = await Promise.all([1, 2, 3].map(() => Database.open(fx.pg.url)));
    try {
      const { rows } = await dbs[0]!.query<{ version: number }>(
        'SELECT version FROM ferry_schema ORDER BY version',
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        [1, 2, 3, 4, 5],
      );
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  for (const mode of MODES) {
    test(`${mode}: a user added, changed and removed on node A takes effect on node B`, async () => {
      const home = path.join(fx.dir, `u-${mode}`);
      await mkdir(home, { recursive: true });
      const a = await startNode(fx.pg.url);
      const b = await startNode(fx.pg.url);
      try {
        const name = `carol-${mode}`;
        const added = changeSeen(b, name);
        await addUser(a, name, 'pw-1', home);
        await added; // B was told (NOTIFY, or the periodic read)
        assert.equal(await tryLogin(b.ts, mode, name, 'pw-1'), 230);
        // A session on B ends when A disables the account.
        const ftp = await loggedIn({ ...b.ts, user: name, password: 'pw-1' }, mode);
        await a.shared.accounts.update(name, (acc) => void (acc.disabled = true));
        await ftp.closed; // B ended it (421)
        await ftp.close();
        const removed = changeSeen(b, name);
        assert.equal(await a.shared.accounts.remove(name), true);
        await removed;
        assert.equal(await tryLogin(b.ts, mode, name, 'pw-1'), 530);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }

  test('a ban raised by failed logins at node A refuses the address at node B', async () => {
    const home = path.join(fx.dir, 'ban');
    await mkdir(home, { recursive: true });
    const a = await startNode(fx.pg.url, 3);
    const b = await startNode(fx.pg.url, 3);
    try {
      for (let i = 0; i < 3; i++) {
        const code = await tryLogin(a.ts, 'explicit', 'nobody', 'wrong').catch(() => 0);
        if (code === 0) break;
      }
      await waitForLog(a.ts, (l) => l.msg === 'address banned');
      await waitForLog(b.ts, (l) => l.msg === 'address banned (shared)');
      await assert.rejects(tryLogin(b.ts, 'explicit', 'nobody', 'x'), 'B refuses the banned address');
      assert.deepEqual(
        (await b.shared.bans.list()).map((x) => x.address),
        ['127.0.0.1'],
      );
      // `ferry bans rm` on the database lifts it everywhere.
      assert.equal(await b.shared.bans.remove('127.0.0.1'), true);
      await waitForLog(a.ts, (l) => l.msg === 'address unbanned (shared)');
      await waitForLog(b.ts, (l) => l.msg === 'address unbanned (shared)');
      assert.equal(await tryLogin(a.ts, 'explicit', 'nobody', 'x'), 530);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('quota: two nodes uploading for one user at once stop at the quota', async () => {
    const home = path.join(fx.dir, 'quota');
    await mkdir(home, { recursive: true });
    const a = await startNode(fx.pg.url);
    const b = await startNode(fx.pg.url);
    try {
      const quota = 4 * 1024 * 1024;
      await addUser(a, 'q', 'pw', home, { quotaSize: quota });
      const principal = { username: 'q', home, readOnly: false, quotaSize: quota };
      const storageOn = (n: Node) =>
        withLimits(new LocalStorage({ root: home }), principal, {
          usage: new QuotaBook(n.shared.usage),
          rates: new RateBuckets(),
        });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const upload = (n: Node, file: string) =>
        storageOn(n).write(
          resolveVPath(ROOT, file),
          Readable.from(
            (function* () {
              for (let i = 0; i < 64; i++) yield chunk;
            })(),
          ),
          { offset: 0, append: false },
          { sessionId: file, signal: new AbortController().signal },
        );
      // 2 × 4 MiB at once against a 4 MiB quota: one of them at least is refused, and what is
      // stored never passes the quota.
      const results = await Promise.allSettled([upload(a, 'one'), upload(b, 'two')]);
      const refused = results.filter((r) => r.status === 'rejected');
      assert.ok(refused.length >= 1, 'at least one upload is refused');
      for (const r of refused)
        assert.equal(((r as PromiseRejectedResult).reason as FerryError).code, 'ERR_QUOTA_EXCEEDED');
      let stored = 0;
      for (const f of ['one', 'two'])
        stored += (await stat(path.join(home, f)).catch(() => ({ size: 0 }))).size;
      assert.ok(stored <= quota, `stored ${stored} ≤ quota ${quota}`);
      const usage = await a.shared.usage.get('q');
      assert.equal(usage?.bytes, stored, 'the recorded usage is what is stored');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('quota: of two uploads that together pass the quota, the refused one gives its charge back at once', async () => {
    const home = path.join(fx.dir, 'pair');
    await mkdir(home, { recursive: true });
    const a = await startNode(fx.pg.url);
    const MiB = 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const gate = (): { open: () => void; opened: Promise<void> } => {
      let open = (): void => {};
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { open, opened };
    };
    /** `first` bytes, then (once `g` opens) `rest`; `taken` opens once all of `first` was read. */
    const source = (first: number, rest: number, g: Promise<void>, taken = gate()) =>
      Readable.from(
        (async function* () {
          for (let n = 0; n < first; n += chunk.length) yield chunk;
          taken.open();
          await g;
          for (let n = 0; n < rest; n += chunk.length) yield chunk;
        })(),
      );
    const [moreA, moreB, takenB] = [gate(), gate(), gate()];
    try {
      await addUser(a, 'pair', 'pw', home, { quotaSize: 20 * MiB });
      const storage = withLimits(
        new LocalStorage({ root: home }),
        { username: 'pair', quotaSize: 20 * MiB },
        { usage: new QuotaBook(a.shared.usage), rates: new RateBuckets() },
      );
      /** 'stored', or the error's code. */
      const upload = (file: string, src: Readable): Promise<string> =>
        storage
          .write(
            resolveVPath(ROOT, file),
            src,
            { offset: 0, append: false },
            {
              sessionId: file,
              signal: new AbortController().signal,
            },
          )
          .then(
            () => 'stored',
            (err: unknown) => (err as FerryError).code,
          );
      // A: 10 of its 12 MiB charged, then it waits for its client.
      const one = upload('one', source(10 * MiB, 2 * MiB, moreA.opened));
      while (((await a.shared.usage.get('pair'))?.bytes ?? 0) < 10 * MiB);
      // B: 16 MiB, refused past 10 MiB, its client still sending (the rest read and dropped).
      const two = upload('two', source(16 * MiB, 0, moreB.opened, takenB));
      await takenB.opened; // B's cap is well past its refusal
      assert.deepEqual(await a.shared.usage.get('pair'), { bytes: 10 * MiB, files: 1 }, 'B holds nothing');
      moreA.open();
      assert.equal(await one, 'stored', "A's last 2 MiB fit");
      moreB.open();
      assert.equal(await two, 'ERR_QUOTA_EXCEEDED');
      assert.deepEqual((await readdir(home)).sort(), ['one']);
      assert.deepEqual(await a.shared.usage.get('pair'), { bytes: 12 * MiB, files: 1 });
    } finally {
      moreA.open();
      moreB.open();
      await a.close();
    }
  });

  test('quota: an overwrite cut by the client (its session gone) leaves the old file counted', async () => {
    const home = path.join(fx.dir, 'cut');
    await mkdir(home, { recursive: true });
    const a = await startNode(fx.pg.url);
    const user = { ...a.ts, user: 'cut', password: 'pw' };
    const open: RawFtp[] = [];
    try {
      await addUser(a, 'cut', 'pw', home, { quotaSize: 1024 * 1024 });
      const ftp = await loggedIn(user, 'explicit');
      open.push(ftp);
      await ftp.cmd('TYPE I', 200);
      const old = randomData(600 * 1024);
      assert.equal((await ftp.store('g1', old))[1].code, 226);
      // An overwrite of g1 cut as by a kill -9 of the client, its first batch charged: both
      // connections reset while the server reads.
      const conn = await uploadUnderWay(ftp, 'g1', randomData(300 * 1024));
      const from = a.ts.logs.length;
      ftp.socket.resetAndDestroy();
      conn.raw.resetAndDestroy();
      await waitForLog(a.ts, (l) => l.msg === 'transfer', from);
      assert.ok((await readFile(path.join(home, 'g1'))).equals(old), 'g1 is still the old file');
      // The transfer's line can come first: a write its session left is abandoned after 1 s and
      // settles (a stat, then the ledger) on its own; under load that is later. Read until it has.
      const want = { bytes: old.length, files: 1 };
      let usage = await a.shared.usage.get('cut');
      for (let i = 0; i < 2_000 && usage?.bytes !== want.bytes; i++) usage = await a.shared.usage.get('cut');
      assert.deepEqual(usage, want);
      const next = await loggedIn(user, 'explicit');
      open.push(next);
      const r = await storeAll(next, 'STOR g2', randomData(600 * 1024));
      assert.equal(r.code, 552, textOf(r));
    } finally {
      await Promise.all(open.map((f) => f.close()));
      await a.close();
    }
  });

  test('quota: changes for several users added at once are all written when their adds resolve', async () => {
    const shared = await openServingState(fx.pg.url, silentLogger);
    try {
      const names = ['w1', 'w2', 'w3'];
      for (const u of names) await shared.usage.init(u, { bytes: 100, files: 1 });
      // The later adds join the write the first one started.
      await Promise.all(names.map((u) => shared.usage.add(u, { bytes: 50, files: 1 })));
      const { rows } = await shared.db.query<{ username: string; bytes: string }>(
        'SELECT username, bytes FROM ferry_usage WHERE username = ANY($1) ORDER BY username',
        [names],
      );
      assert.deepEqual(
        rows.map((r) => [r.username, Number(r.bytes)]),
        names.map((u) => [u, 150]),
      );
    } finally {
      await shared.close();
    }
  });

  test('quota: a recount replaces the row only where it is still what the recount read', async () => {
    const shared = await openServingState(fx.pg.url, silentLogger);
    try {
      const u = shared.usage;
      assert.equal(await u.replace('r1', undefined, { bytes: 10, files: 1 }), true, 'no row: inserted');
      assert.equal(await u.replace('r1', undefined, { bytes: 99, files: 9 }), false, 'a row appeared');
      await u.add('r1', { bytes: 5, files: 0 }); // a node's upload recorded during the scan
      assert.equal(await u.replace('r1', { bytes: 10, files: 1 }, { bytes: 7, files: 1 }), false);
      assert.deepEqual(await u.get('r1'), { bytes: 15, files: 1 });
      assert.equal(await u.replace('r1', { bytes: 15, files: 1 }, { bytes: 7, files: 1 }), true);
      assert.equal(await u.replace('r1', 'any', { bytes: 3, files: 1 }), true);
      assert.deepEqual(await u.get('r1'), { bytes: 3, files: 1 });
    } finally {
      await shared.close();
    }
  });

  test('maxSessions counts sessions on every node; a dead node’s leases expire', async () => {
    const home = path.join(fx.dir, 'sessions');
    await mkdir(home, { recursive: true });
    const a = await startNode(fx.pg.url);
    const b = await startNode(fx.pg.url);
    try {
      await addUser(a, 's', 'pw', home, { maxSessions: 2 });
      const onA = await loggedIn({ ...a.ts, user: 's', password: 'pw' }, 'explicit');
      const onB = await loggedIn({ ...b.ts, user: 's', password: 'pw' }, 'explicit');
      assert.equal(
        await tryLogin(b.ts, 'explicit', 's', 'pw'),
        421,
        'the third session, on either node, is refused',
      );
      await onA.cmd('QUIT', 221);
      await onA.close();
      // The session on A ended: its lease is given back.
      let code = 0;
      for (let i = 0; i < 50 && code !== 230; i++) code = await tryLogin(b.ts, 'explicit', 's', 'pw');
      assert.equal(code, 230);
      await onB.close();
      // A node that died (killed: no clean shutdown) left a session whose lease it no longer
      // renews: it counts until the lease runs out, not forever. Timed from before the INSERT: the
      // lease ends at least 500 ms later, however long its reply takes on a loaded machine.
      const started = Date.now();
      await a.shared.db.query(
        `INSERT INTO ferry_sessions (id, node, username, expires)
         VALUES ('dead:1', 'dead-node', 's2', clock_timestamp() + interval '500 milliseconds')`,
      );
      const other = new PgSessions(a.shared.db, { leaseMs: 500 });
      assert.equal(await other.take('s2', 1), false);
      let took = false;
      while (!took) took = await other.take('s2', 1);
      assert.ok(Date.now() - started >= 500, 'counted while its lease ran');
      await other.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('the database back after an outage: the leases that ran out meanwhile count again at once', async () => {
    const db = await Database.open(fx.pg.url);
    // Renewed every 20 s: not during this test, but at the recovery.
    const node = new PgSessions(db, { leaseMs: 60_000 });
    const other = new PgSessions(db, { leaseMs: 60_000 });
    try {
      assert.equal(await node.take('r', 1), true);
      // Its lease runs out while the database is away (as in an outage longer than the lease).
      await db.query(
        "UPDATE ferry_sessions SET expires = clock_timestamp() - interval '1 second' WHERE node = $1",
        [node.node],
      );
      await fx.pg.stop();
      await db.query('SELECT 1').catch(() => {});
      assert.equal(db.available, false);
      await fx.pg.start();
      await db.back(); // found back by its probes
      await node.restored();
      assert.equal(await other.take('r', 1), false, 'the running session counts again: maxSessions 1 holds');
    } finally {
      await other.close();
      await node.close();
      await db.close();
    }
  });

  test('cut uploads: what one node remembers another refuses, until stored; bounded; an outage keeps the node’s file record', async () => {
    const [dbA, dbB] = await Promise.all([Database.open(fx.pg.url), Database.open(fx.pg.url)]);
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (_obj, msg = '') => void warnings.push(msg),
      child: () => logger,
    };
    let now = Date.now();
    const clock = { now: () => now, max: 3, maxPerUser: 3 };
    const a = new CutUploads(path.join(fx.dir, 'cuts-a.json'), {
      ...clock,
      logger,
      shared: new PgCutUploads(dbA, logger),
    });
    const b = new CutUploads(path.join(fx.dir, 'cuts-b.json'), {
      ...clock,
      logger,
      shared: new PgCutUploads(dbB, logger),
    });
    const old = { id: '1:2', size: 300, modified: 1000 };
    const at = async (v: typeof old): Promise<typeof old> => v;
    try {
      // The user and the path are the key: another user's file of that name is another file.
      await a.remember(cutKey('u', '/doc.bin'), old);
      assert.equal(await b.isCut(cutKey('u', '/doc.bin'), () => at(old)), true, 'B refuses');
      assert.equal(await b.isCut(cutKey('v', '/doc.bin'), () => at(old)), false, 'not another user’s');
      assert.equal(
        await b.isCut(cutKey('u', '/doc.bin'), () => at({ ...old, size: 500 })),
        false,
        'a newer file',
      );
      // The rows' paths are digests (cutKey): named back for the assertions.
      const names = ['/doc.bin', '/own.bin', '/1', '/2', '/3', '/4', '/5'];
      const named = new Map(names.map((n) => [cutKey('u', n).split('\u0000')[1], n]));
      const keys = async (): Promise<string[]> => {
        const { rows } = await dbA.query<{ path: string }>('SELECT path FROM ferry_cut_uploads');
        return rows.map((r) => named.get(r.path) ?? r.path).sort();
      };
      // A replacement on B learns of A's record from its own write (B's memory and file have none).
      assert.equal((await b.remember(cutKey('u', '/doc.bin'), old)).stood, true, 'A’s record stood');
      assert.equal((await b.remember(cutKey('v', '/doc.bin'), old)).stood, false, 'none stood');
      await b.forget(cutKey('v', '/doc.bin'));
      await b.forget(cutKey('u', '/doc.bin'));
      assert.deepEqual(await keys(), [], 'stored on B: gone from the database');
      // An upload that stored nothing drops its own record only: one another node wrote since stays.
      const mine = await a.remember(cutKey('u', '/own.bin'), old);
      now += 1;
      const theirs = await b.remember(cutKey('u', '/own.bin'), old);
      await a.forgetOwn(cutKey('u', '/own.bin'), mine.own);
      assert.deepEqual(await keys(), ['/own.bin'], 'B’s record stays');
      await b.forgetOwn(cutKey('u', '/own.bin'), theirs.own);
      assert.deepEqual(await keys(), []);

      // At most `max` records (the oldest go), none older than the TTL.
      for (const name of ['/1', '/2', '/3', '/4']) {
        now += 1;
        await a.remember(cutKey('u', name), old);
      }
      assert.deepEqual(await keys(), ['/2', '/3', '/4']);
      now += CUT_TTL_MS + 1;
      await a.remember(cutKey('u', '/5'), old);
      assert.deepEqual(await keys(), ['/5']);
      assert.deepEqual(warnings, []);

      // The database away: the upload goes on, one warn line, and this node still refuses (its file).
      await fx.pg.stop();
      await b.remember(cutKey('u', '/away'), old);
      const bWorker = new CutUploads(b.file, { ...clock, shared: new PgCutUploads(dbB) }); // a worker
      assert.equal(await bWorker.isCut(cutKey('u', '/away'), () => at(old)), true, 'B’s other workers too');
      await b.forget(cutKey('u', '/5'));
      await fx.pg.start();
      assert.deepEqual(warnings, [
        'cut uploads not shared while the database is unavailable: each node refuses alone',
      ]);
      // Each node's probes find the database back.
      await Promise.all([dbA.back(), dbB.back()]);
      await b.remember(cutKey('u', '/back'), old);
      assert.equal(await a.isCut(cutKey('u', '/back'), () => at(old)), true, 'shared again');
    } finally {
      await Promise.all([dbA.close(), dbB.close()]);
    }
  });

  test('cut uploads: two nodes recording the same file in the same millisecond each forget only their own row', async () => {
    const [dbA, dbB] = await Promise.all([Database.open(fx.pg.url), Database.open(fx.pg.url)]);
    const clock = { now: () => 1_900_000_000_000 }; // the same millisecond on both nodes
    const a = new CutUploads(undefined, { ...clock, shared: new PgCutUploads(dbA) });
    const b = new CutUploads(undefined, { ...clock, shared: new PgCutUploads(dbB) });
    const old = { id: '1:3', size: 300, modified: 1000 };
    const key = cutKey('u', '/same-ms.bin');
    const rows = async (): Promise<number> =>
      (await dbA.query('SELECT 1 FROM ferry_cut_uploads WHERE path = $1', [key.split('\u0000')[1]]))
        .rowCount ?? 0;
    try {
      const mine = await a.remember(key, old);
      const theirs = await b.remember(key, old);
      assert.equal(mine.own.at, theirs.own.at, 'the same `at`: told apart by the node');
      await a.forgetOwn(key, mine.own);
      assert.equal(await rows(), 1, 'B’s row stays');
      assert.equal(await a.isCut(key, async () => old), true, 'and guards the file on A too');
      await b.forgetOwn(key, theirs.own);
      assert.equal(await rows(), 0);
    } finally {
      await Promise.all([dbA.close(), dbB.close()]);
    }
  });

  test('cut uploads: a put while another node’s put of the file is not committed yet is told of that record', async () => {
    const [db, other] = await Promise.all([Database.open(fx.pg.url), Database.open(fx.pg.url)]);
    const cuts = new PgCutUploads(db);
    const theirs: CutRecord = { id: '1:4', size: 300, modified: 1000, at: Date.now(), tag: 'theirs' };
    const o = { ttlMs: CUT_TTL_MS, max: 2000, maxPerUser: 100 };
    try {
      let put: Promise<CutRecord | undefined> | undefined;
      let waited = false;
      // The other node's put, held open at its write: this node's put of the file starts meanwhile.
      await other.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2 || $3))', [CUT_LOCK, 'u', '/race.bin']);
        await c.query(
          `INSERT INTO ferry_cut_uploads (username, path, id, size, modified, at, tag)
             VALUES ('u', '/race.bin', $1, $2, $3, $4, $5)`,
          [theirs.id, theirs.size, theirs.modified, theirs.at, theirs.tag],
        );
        put = cuts.put('u', '/race.bin', { ...theirs, at: theirs.at + 1, tag: 'mine' }, o);
        // Committed only once this node's put waits for it (its advisory lock not granted): no
        // timing guessed. The deadline only turns a put that never waits into a clear failure.
        const waiting = async (): Promise<boolean> =>
          (
            await c.query(
              "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()",
            )
          ).rowCount !== 0;
        const deadline = Date.now() + 10_000;
        while (!(waited = await waiting()) && Date.now() < deadline);
      });
      // Asserted here: thrown inside the transaction it would read as the database unavailable.
      assert.ok(waited, 'this node’s put waits for the other’s lock on the key');
      assert.deepEqual(await put, theirs, 'the record it replaced');
    } finally {
      await Promise.all([db.close(), other.close()]);
    }
  });

  test('cut uploads: a put is one round trip to the database', async () => {
    const db = await Database.open(fx.pg.url);
    const cuts = new PgCutUploads(db);
    const o = { ttlMs: CUT_TTL_MS, max: 2000, maxPerUser: 100 };
    const record: CutRecord = { id: '1:5', size: 300, modified: 1000, at: Date.now(), tag: 'rt' };
    // Each exchange with the server ends with its ReadyForQuery, on whichever pooled connection.
    let exchanges = 0;
    const counted = new Set<unknown>();
    db.pool.on('acquire', (client) => {
      if (counted.has(client)) return;
      counted.add(client);
      client.connection.on('readyForQuery', () => exchanges++);
    });
    try {
      assert.equal(await cuts.put('u', '/round-trip.bin', record, o), undefined, 'none stood');
      exchanges = 0;
      const next = { ...record, at: record.at + 1 };
      assert.deepEqual(await cuts.put('u', '/round-trip.bin', next, o), record, 'the record it replaced');
      assert.equal(exchanges, 1);
    } finally {
      await db.close();
    }
  });

  test('PostgreSQL stopped and started: sessions go on, cached logins work, others 421 (wrong passwords scored), usage is kept', async () => {
    const home = path.join(fx.dir, 'outage');
    await mkdir(home, { recursive: true });
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (_obj, msg = '') => void warnings.push(msg),
      child: () => logger,
    };
    const a = await startNode(fx.pg.url, 1000, logger);
    try {
      await addUser(a, 'o', 'pw', home, { quotaSize: 100 * 1024 * 1024 });
      await addUser(a, 'p', 'pw', home);
      const user = { ...a.ts, user: 'o', password: 'pw' };
      const ftp = await loggedIn(user, 'explicit'); // verified now: cached for offline logins
      await ftp.store('before', Buffer.alloc(1000, 1));
      await fx.pg.stop();
      // The running session keeps working, uploads included (their accounting waits).
      const [, done] = await ftp.store('during', Buffer.alloc(3000, 2));
      assert.equal(done.code, 226, textOf(done));
      assert.equal((await ftp.retrieve('before')).length, 1000);
      assert.ok(a.shared.usage.pending.size > 0, 'the usage change waits for the database');
      // A login verified before is served from the cache; one never verified here gets 421.
      assert.equal(await tryLogin(a.ts, 'explicit', 'o', 'pw'), 230);
      assert.equal(await tryLogin(a.ts, 'explicit', 'p', 'pw'), 421);
      // Another password for a cached user: the same 421 (cached names are not told apart), scored.
      assert.equal(await tryLogin(a.ts, 'explicit', 'o', 'wrong'), 421);
      // A ledger closed while the database is away says how much it could not write.
      const lostLines: string[] = [];
      const closing = new PgUsage(a.shared.db, {
        ...silentLogger,
        warn: (_obj, msg = '') => void lostLines.push(msg),
        child: () => logger,
      });
      await closing.add('o', { bytes: 500, files: 1 });
      await closing.close();
      assert.ok(
        lostLines.includes(
          "quota usage not written at shutdown: 500 bytes and 1 files of 1 users are missing from the database ('ferry users rescan' counts them again)",
        ),
        lostLines.join('\n'),
      );
      await fx.pg.start();
      // Recovery is automatic: pending usage is written, and logins work again.
      await a.shared.db.back();
      while (a.shared.usage.pending.size > 0) await a.shared.usage.flush();
      assert.equal(await tryLogin(a.ts, 'explicit', 'p', 'pw'), 230);
      assert.deepEqual(await a.shared.usage.get('o'), { bytes: 4000, files: 2 });
      // The retries of the usage write (one a second) are logged once, and once more when it is
      // written: a line per attempt before, none when it got through.
      const usageLines = warnings.filter((m) => m.startsWith('quota usage'));
      assert.deepEqual(usageLines, [
        'quota usage not written yet: retrying',
        'quota usage written after retries',
      ]);
      await ftp.cmd('NOOP', 200);
      await ftp.close();
    } finally {
      await a.close();
    }
  });
});
