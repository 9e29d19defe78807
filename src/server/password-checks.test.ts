import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthOutcome, Authenticator } from '../auth/types.js';
import { Secret } from '../auth/types.js';
import { Defender, type DefenderEvent, type DefenderPort } from '../defender/defender.js';
import { guardAuthenticator, PasswordCheckQueue } from './password-checks.js';

/** A check that ends when the test says so. */
function gate(): { check: () => Promise<string>; open: () => void; started: boolean } {
  let open!: () => void;
  const g = {
    started: false,
    check: () => {
      g.started = true;
      return new Promise<string>((resolve) => (open = () => resolve('done')));
    },
    open: () => open(),
  };
  return g;
}

const never = new AbortController().signal;

test('a quiet address takes the next free slot, ahead of an attacker queue', async () => {
  const q = new PasswordCheckQueue({ overall: 2, perAddress: 1 });
  const attackers = [...Array(20)].map((_, i) => ({ g: gate(), address: `10.0.0.${i % 2}` }));
  const runs = attackers.map((a) => q.run(a.address, never, a.g.check));
  assert.equal(attackers.filter((a) => a.g.started).length, 2);
  const legit = gate();
  const legitRun = q.run('192.0.2.1', never, legit.check);
  assert.equal(legit.started, false);
  // One running check ends: the quiet address is next, before the attackers' waiting checks.
  attackers.find((a) => a.g.started)?.g.open();
  await new Promise(setImmediate);
  assert.equal(legit.started, true);
  legit.open();
  assert.equal(await legitRun, 'done');
  // Drain the rest.
  for (;;) {
    const running = attackers.filter((a) => a.g.started);
    running.forEach((a) => a.g.open());
    await new Promise(setImmediate);
    if (attackers.every((a) => a.g.started)) break;
  }
  attackers.forEach((a) => a.g.open());
  assert.equal((await Promise.all(runs)).length, 20);
  assert.equal(q.waiting, 0);
});

test('per address: one at a time, in order', async () => {
  const q = new PasswordCheckQueue({ overall: 4, perAddress: 1 });
  const gs = [gate(), gate(), gate()];
  const runs = gs.map((g) => q.run('10.0.0.1', never, g.check));
  assert.deepEqual(
    gs.map((g) => g.started),
    [true, false, false],
  );
  gs[0]?.open();
  await new Promise(setImmediate);
  assert.equal(gs[1]?.started, true);
  gs[1]?.open();
  await new Promise(setImmediate);
  gs[2]?.open();
  assert.deepEqual(await Promise.all(runs.slice(0, 3)), ['done', 'done', 'done']);
});

test('an aborted wait leaves the queue', async () => {
  const q = new PasswordCheckQueue({ overall: 1, perAddress: 1 });
  const first = gate();
  const r1 = q.run('10.0.0.1', never, first.check);
  const ac = new AbortController();
  const second = gate();
  const r2 = q.run('10.0.0.2', ac.signal, second.check);
  ac.abort();
  assert.equal(await r2, undefined);
  assert.equal(q.waiting, 0);
  first.open();
  assert.equal(await r1, 'done');
  assert.equal(second.started, false);
});

/** A check that never settles (a directory server called without a timeout); says when it starts. */
function hung(): { check: () => Promise<string>; started: Promise<void> } {
  let begun!: () => void;
  const started = new Promise<void>((resolve) => (begun = resolve));
  return { check: () => (begun(), new Promise<string>(() => {})), started };
}

test('a running check whose signal aborts: answered at once, its late answer ignored', async () => {
  const q = new PasswordCheckQueue({ overall: 1, perAddress: 1 });
  const ac = new AbortController();
  const slow = gate();
  const run = q.run('10.0.0.1', ac.signal, slow.check);
  const next = gate();
  const nextRun = q.run('10.0.0.2', never, next.check);
  ac.abort();
  assert.equal(await run, undefined);
  // The slot is still the aborted check's while it winds down (a scrypt cannot be stopped)...
  assert.equal(next.started, false);
  // ... and free once it ends; its answer goes nowhere.
  slow.open();
  await new Promise(setImmediate);
  assert.equal(next.started, true);
  next.open();
  assert.equal(await nextRun, 'done');
});

test(
  'a check that never ends gives its slot back soon after its signal aborts',
  { timeout: 5_000 },
  async () => {
    const q = new PasswordCheckQueue({ overall: 2, perAddress: 1 }, { abandonAfterMs: 20 });
    const hangs = [hung(), hung()];
    const acs = [new AbortController(), new AbortController()];
    const runs = hangs.map((h, i) => q.run(`127.0.0.${i + 1}`, acs[i]?.signal ?? never, h.check));
    await Promise.all(hangs.map((h) => h.started));
    const good = gate();
    const goodRun = q.run('127.0.0.3', never, good.check);
    assert.equal(good.started, false);
    for (const ac of acs) ac.abort();
    assert.deepEqual(await Promise.all(runs), [undefined, undefined]);
    const next = hung();
    void q.run('127.0.0.4', never, next.check);
    // Both slots come back (20 ms later): the waiting checks start; the never-ending ones are forgotten.
    await next.started;
    await new Promise(setImmediate);
    assert.equal(good.started, true);
    good.open();
    assert.equal(await goodRun, 'done');
    assert.equal(q.waiting, 0);
  },
);

test(
  'checks that never answer give back their overall slots after longAfterMs: other addresses go on',
  { timeout: 5_000 },
  async () => {
    // A hung backend (or an attacker's user names that hang it) from two addresses, signals not aborted.
    const q = new PasswordCheckQueue({ overall: 2, perAddress: 1 }, { longAfterMs: 20 });
    const hangs = [hung(), hung()];
    hangs.forEach((h, i) => void q.run(`10.0.0.${i + 1}`, never, h.check));
    await Promise.all(hangs.map((h) => h.started));
    let started = false;
    let begun!: () => void;
    const begins = new Promise<void>((resolve) => (begun = resolve));
    const goodRun = q.run('192.0.2.1', never, () => ((started = true), begun(), Promise.resolve('done')));
    assert.equal(started, false);
    // Started once the hung checks are long (20 ms), not when their signals abort (30 s).
    await begins;
    assert.equal(await goodRun, 'done');
  },
);

test(
  "a check that never answers gives back its address's slot once long: other logins from there go on",
  { timeout: 5_000 },
  async () => {
    // A custom authenticator hung for one user: the others behind the same NAT must not wait for its timeout.
    const q = new PasswordCheckQueue({ overall: 2, perAddress: 1 }, { longAfterMs: 20 });
    const hang = hung();
    void q.run('10.0.0.1', never, hang.check);
    await hang.started;
    let started = false;
    const sameRun = q.run('10.0.0.1', never, () => ((started = true), Promise.resolve('done')));
    assert.equal(started, false, 'while it may be hashing, it holds the address slot');
    // Started once the hung check is long (20 ms), not when its signal aborts (30 s).
    assert.equal(await sameRun, 'done');
  },
);

test('long checks per address are bounded: past perAddress × 4, a long check keeps its address slot', async () => {
  const q = new PasswordCheckQueue({ overall: 8, perAddress: 1 }, { longAfterMs: 5, abandonAfterMs: 0 });
  const acs = [...Array(6)].map(() => new AbortController());
  const hangs = acs.map(() => hung());
  hangs.forEach((h, i) => void q.run('10.0.0.1', acs[i]?.signal ?? never, h.check));
  // One at a time goes long and lets the next start, up to 4 long and a 5th running.
  for (const h of hangs.slice(0, 5)) await h.started;
  // The 5th retries going long every 5 ms: give it ten tries.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(q.waiting, 1);
  // Another address is not held up by them.
  const other = gate();
  void q.run('10.0.0.2', never, other.check);
  assert.equal(other.started, true);
  other.open();
  // One long check ends (its signal aborts, it is abandoned): the 5th goes long, the 6th starts.
  acs[0]?.abort();
  await hangs[5]?.started;
  for (const ac of acs) ac.abort();
});

test('long checks are bounded: past overall × 4 of them, a long check keeps its overall slot', async () => {
  const q = new PasswordCheckQueue({ overall: 1, perAddress: 1 }, { longAfterMs: 5, abandonAfterMs: 0 });
  const acs = [...Array(6)].map(() => new AbortController());
  const hangs = acs.map(() => hung());
  hangs.forEach((h, i) => void q.run(`10.0.0.${i + 1}`, acs[i]?.signal ?? never, h.check));
  // One at a time goes long and lets the next start, up to 4 long and a 5th running.
  for (const h of hangs.slice(0, 5)) await h.started;
  // The 5th retries going long every 5 ms: give it ten tries.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(q.waiting, 1);
  // One long check ends (its signal aborts, it is abandoned): the 5th goes long, the 6th starts.
  acs[0]?.abort();
  await hangs[5]?.started;
  for (const ac of acs) ac.abort();
});

test("a check that throws at once is its caller's rejection; the queue goes on", async () => {
  const q = new PasswordCheckQueue({ overall: 1, perAddress: 1 });
  await assert.rejects(
    q.run('10.0.0.1', never, () => {
      throw new Error('not async');
    }),
    /not async/,
  );
  const next = gate();
  const run = q.run('10.0.0.1', never, next.check);
  assert.equal(next.started, true);
  next.open();
  assert.equal(await run, 'done');
});

describe('guardAuthenticator', () => {
  const credentials = { username: 'hang', password: new Secret('pw'), remoteAddress: '127.0.0.1', tls: true };
  /** A defender port that bans no one and keeps what it was told. */
  const recording = (): DefenderPort & { events: DefenderEvent[] } => {
    const events: DefenderEvent[] = [];
    return {
      events,
      banned: () => false,
      record: (_a, e) => void events.push(e),
      key: (a) => a,
      counted: (a) => a,
    };
  };
  const never: Authenticator = { authenticate: () => new Promise<AuthOutcome>(() => {}) };
  /** `never` behind a queue that abandons at once, and the defender it reports to. */
  const guardedNever = (): { defender: ReturnType<typeof recording>; guarded: Authenticator } => {
    const defender = recording();
    const queue = new PasswordCheckQueue({ overall: 2, perAddress: 1 }, { abandonAfterMs: 0 });
    return { defender, guarded: guardAuthenticator(never, queue, defender) };
  };

  test('an authenticator that never answers: unavailable (421) when the check times out, not scored', async () => {
    const { defender, guarded } = guardedNever();
    const ac = new AbortController();
    const outcome = guarded.authenticate(credentials, ac.signal);
    ac.abort(new DOMException('The check timed out.', 'TimeoutError'));
    assert.deepEqual(await outcome, {
      ok: false,
      unavailable: true,
      reason: 'password check: the authenticator did not answer in time',
    });
    assert.deepEqual(defender.events, []);
  });

  test('its client leaving: dropped, not scored', async () => {
    const { defender, guarded } = guardedNever();
    const ac = new AbortController();
    const outcome = guarded.authenticate(credentials, ac.signal);
    ac.abort();
    assert.deepEqual(await outcome, { ok: false, reason: 'password check dropped: the client left' });
    assert.deepEqual(defender.events, []);
  });

  test('offline (the account store away): a refusal is not scored, a wrong password for a cached account is', async () => {
    const defender = recording();
    const queue = new PasswordCheckQueue({ overall: 2, perAddress: 1 });
    const offline = (guess: boolean): Authenticator => ({
      authenticate: async () => ({
        ok: false,
        reason: 'store away',
        unavailable: true,
        ...(guess && { guess }),
      }),
    });
    const signal = new AbortController().signal;
    await guardAuthenticator(offline(false), queue, defender).authenticate(credentials, signal);
    assert.deepEqual(defender.events, []);
    await guardAuthenticator(offline(true), queue, defender).authenticate(credentials, signal);
    assert.deepEqual(defender.events, ['failed-login']);
  });

  test("the addresses of one IPv6 /64 share their network's turn: rotating them takes no more checks at once", async () => {
    const started: string[] = [];
    const pending: (() => void)[] = [];
    const slow: Authenticator = {
      authenticate: (c) => {
        started.push(c.remoteAddress);
        return new Promise<AuthOutcome>((resolve) =>
          pending.push(() => resolve({ ok: false, reason: 'no' })),
        );
      },
    };
    const guarded = guardAuthenticator(
      slow,
      new PasswordCheckQueue({ overall: 2, perAddress: 1 }),
      new Defender(),
    );
    const login = (remoteAddress: string): Promise<AuthOutcome> =>
      guarded.authenticate({ ...credentials, remoteAddress }, new AbortController().signal);
    const logins = ['2001:db8:1::1', '2001:db8:1::2', '2001:db8:2::1'].map(login);
    await new Promise(setImmediate);
    assert.deepEqual(started, ['2001:db8:1::1', '2001:db8:2::1'], 'the second of the /64 waits');
    pending.shift()?.();
    await logins[0];
    await new Promise(setImmediate);
    assert.deepEqual(started, ['2001:db8:1::1', '2001:db8:2::1', '2001:db8:1::2']);
    for (const end of pending) end();
    await Promise.all(logins);
  });

  test('an anonymous login refused (allowFrom) is not scored; a wrong password is', async () => {
    const defender = recording();
    const queue = new PasswordCheckQueue({ overall: 2, perAddress: 1 });
    const refusing = (anonymous: boolean): Authenticator => ({
      authenticate: async () => ({ ok: false, reason: 'refused', ...(anonymous && { anonymous }) }),
    });
    const signal = new AbortController().signal;
    await guardAuthenticator(refusing(true), queue, defender).authenticate(credentials, signal);
    assert.deepEqual(defender.events, []);
    await guardAuthenticator(refusing(false), queue, defender).authenticate(credentials, signal);
    assert.deepEqual(defender.events, ['failed-login']);
  });
});
