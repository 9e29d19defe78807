/**
 * Uploads in flight against a quota kept in PostgreSQL (real, test/support/postgres.ts): the upload
 * refused for the quota gives back what it held in the step that refuses it, so the others in
 * flight are not refused for bytes no longer wanted (parallel uploads near the quota used to be
 * all refused).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { openSharedState, type SharedState } from '../../src/cli/shared-state.js';
import { FerryError } from '../../src/errors.js';
import { LocalStorage } from '../../src/storage/local.js';
import { withLimits } from '../../src/storage/limited.js';
import { QuotaBook, type Usage, type UsageLedger } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import { resolveVPath, ROOT } from '../../src/storage/virtual-path.js';
import { usePostgres } from '../support/postgres.js';

const MiB = 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 7);

interface Gate {
  open: () => void;
  opened: Promise<void>;
}

function gate(): Gate {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** An upload's client: `first` bytes, then (once `more` opens) `rest`, then the end. */
function source(first: number, rest: number, more: Promise<void>): Readable {
  return Readable.from(
    (async function* () {
      for (let n = 0; n < first; n += chunk.length) yield chunk;
      await more;
      for (let n = 0; n < rest; n += chunk.length) yield chunk;
    })(),
  );
}

/**
 * The database's ledger, watched: each charge's outcome is told to whoever waits for it, and
 * `add` (a change written after the fact) waits for `adds` to open, as a write queued behind
 * the other uploads' charges in a busy pool does.
 */
class WatchedLedger implements UsageLedger {
  readonly adds = gate();
  #charged = 0;
  #outcomes: boolean[] = [];
  #waiters: Array<() => void> = [];

  constructor(private readonly inner: SharedState['usage']) {}

  get(username: string): Promise<Usage | undefined> {
    return this.inner.get(username);
  }
  init(username: string, usage: Usage): Promise<Usage> {
    return this.inner.init(username, usage);
  }
  async add(username: string, delta: Usage): Promise<void> {
    await this.adds.opened;
    await this.inner.add(username, delta);
  }
  forget(username: string): Promise<void> {
    return this.inner.forget(username);
  }
  async charge(
    username: string,
    delta: Usage,
    limit: { bytes?: number; files?: number },
    release?: Usage,
  ): Promise<boolean> {
    const ok = await this.inner.charge(username, delta, limit, release);
    if (ok) this.#charged += delta.bytes;
    this.#outcomes.push(ok);
    this.#waiters.forEach((w) => w());
    return ok;
  }

  /** Resolves once `bytes` in all were charged. */
  charged(bytes: number): Promise<void> {
    return this.#until(() => this.#charged >= bytes);
  }

  /** The outcome of the next charge after the `seen` already told. */
  async outcome(seen: number): Promise<boolean> {
    await this.#until(() => this.#outcomes.length > seen);
    return this.#outcomes[seen] as boolean;
  }

  get outcomes(): number {
    return this.#outcomes.length;
  }

  #until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
      check();
    });
  }
}

let shared: SharedState;
const fx = usePostgres('ferry-pg-refusal-', async (pg) => (shared = await openSharedState(pg.url)));

test('of two uploads filling the quota, the one refused leaves room for the other at once', async () => {
  const ledger = new WatchedLedger(shared.usage);
  const storage = withLimits(
    new LocalStorage({ root: fx.dir }),
    { username: 'pair', quotaSize: 10 * MiB },
    { usage: new QuotaBook(ledger), rates: new RateBuckets() },
  );
  const upload = (file: string, src: Readable): Promise<string> =>
    storage
      .write(
        resolveVPath(ROOT, file),
        src,
        { offset: 0, append: false },
        { sessionId: file, signal: new AbortController().signal },
      )
      .then(
        () => 'stored',
        (err: unknown) => (err as FerryError).code,
      );
  const [moreA, moreB] = [gate(), gate()];
  try {
    // A holds 6 MiB, B 4 MiB: the quota is full, each waits for its client.
    const one = upload('one', source(6 * MiB, 256 * 1024, moreA.opened));
    await ledger.charged(6 * MiB);
    const two = upload('two', source(4 * MiB, 256 * 1024, moreB.opened));
    await ledger.charged(10 * MiB);
    // A's next batch does not fit: refused.
    let seen = ledger.outcomes;
    moreA.open();
    assert.equal(await ledger.outcome(seen), false, "A's batch past the quota is refused");
    // B's next batch fits once A's 6 MiB are given back, and they are already.
    seen = ledger.outcomes;
    moreB.open();
    assert.equal(await ledger.outcome(seen), true, "B's batch fits: A's refusal gave its bytes back");
    ledger.adds.open();
    assert.equal(await one, 'ERR_QUOTA_EXCEEDED');
    assert.equal(await two, 'stored');
    assert.deepEqual(await readdir(fx.dir), ['two']);
    assert.deepEqual(await shared.usage.get('pair'), { bytes: 4 * MiB + 256 * 1024, files: 1 });
  } finally {
    ledger.adds.open();
    moreA.open();
    moreB.open();
  }
});
