import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Defender, DEFAULT_DEFENDER, isBanKey, type DefenderChange } from './defender.js';

const MIN = 60_000;

function make(settings = DEFAULT_DEFENDER): { d: Defender; changes: DefenderChange[]; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const changes: DefenderChange[] = [];
  return {
    d: new Defender(
      settings,
      (c) => changes.push(c),
      () => clock.t,
    ),
    changes,
    clock,
  };
}

test('15 points within the window ban the address for 15 minutes; others are untouched', () => {
  const { d, changes, clock } = make();
  for (let i = 0; i < 14; i++) d.record('192.0.2.1', 'failed-login');
  assert.equal(d.banned('192.0.2.1'), false);
  d.record('192.0.2.1', 'failed-login');
  assert.equal(d.banned('192.0.2.1'), true);
  assert.equal(d.banned('192.0.2.2'), false);
  assert.equal(changes[0]?.kind, 'ban');
  clock.t += 15 * MIN - 1;
  assert.equal(d.banned('192.0.2.1'), true);
  clock.t += 1;
  assert.equal(d.banned('192.0.2.1'), false);
  assert.deepEqual(changes[1], {
    kind: 'unban',
    address: '192.0.2.1',
    why: 'expired',
    ban: { address: '192.0.2.1', since: 1_000_000, until: 1_900_000, bans: 1 },
  });
});

test('the window slides: points older than 5 minutes no longer count', () => {
  const { d, clock } = make();
  for (let i = 0; i < 7; i++) d.record('192.0.2.1', 'tls-failure'); // 14
  clock.t += 5 * MIN;
  d.record('192.0.2.1', 'tls-failure');
  assert.equal(d.banned('192.0.2.1'), false);
  for (let i = 0; i < 6; i++) d.record('192.0.2.1', 'tls-failure'); // 14 within the window
  assert.equal(d.banned('192.0.2.1'), false);
  d.record('192.0.2.1', 'failed-login');
  assert.equal(d.banned('192.0.2.1'), true);
});

test('each repeat doubles the ban, up to the maximum', () => {
  const { d, clock } = make();
  const lengths: number[] = [];
  for (let round = 0; round < 9; round++) {
    for (let i = 0; i < 5; i++) d.record('192.0.2.9', 'limit-refused');
    const [ban] = d.list();
    assert.ok(ban);
    lengths.push(ban.until - ban.since);
    clock.t = ban.until;
    assert.equal(d.banned('192.0.2.9'), false);
  }
  assert.deepEqual(
    lengths.map((ms) => ms / MIN),
    [15, 30, 60, 120, 240, 480, 960, 1440, 1440],
  );
});

test('a repeat long after the last ban is a first ban again', () => {
  const { d, clock } = make();
  for (let i = 0; i < 5; i++) d.record('192.0.2.9', 'limit-refused');
  clock.t += 15 * MIN + 15 * MIN; // the ban, then as long again
  for (let i = 0; i < 5; i++) d.record('192.0.2.9', 'limit-refused');
  const [ban] = d.list();
  assert.equal(ban?.bans, 1);
});

test('the allow list is never scored nor banned', () => {
  const { d } = make({ ...DEFAULT_DEFENDER, allow: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
  for (const a of ['10.1.2.3', '2001:db8::1', '192.0.2.7']) {
    for (let i = 0; i < 50; i++) d.record(a, 'tls-failure');
    assert.equal(d.banned(a), false, a);
  }
  for (let i = 0; i < 8; i++) d.record('192.0.2.8', 'tls-failure');
  assert.equal(d.banned('192.0.2.8'), true);
});

test('unban lifts a ban now; the repeat still doubles', () => {
  const { d, changes } = make();
  for (let i = 0; i < 5; i++) d.record('192.0.2.1', 'limit-refused');
  assert.equal(d.unban('192.0.2.1'), true);
  assert.equal(d.unban('192.0.2.1'), false);
  assert.equal(d.banned('192.0.2.1'), false);
  assert.deepEqual(changes.at(-1), {
    kind: 'unban',
    address: '192.0.2.1',
    why: 'removed',
    ban: { address: '192.0.2.1', since: 1_000_000, until: 1_000_000, bans: 1 },
  });
  for (let i = 0; i < 5; i++) d.record('192.0.2.1', 'limit-refused');
  assert.equal(d.list()[0]?.bans, 2);
});

test('snapshot and restore keep bans and repeats (a restart)', () => {
  const a = make();
  for (let i = 0; i < 5; i++) a.d.record('192.0.2.1', 'limit-refused');
  const b = make();
  b.clock.t = a.clock.t + MIN;
  b.d.restore(JSON.parse(JSON.stringify(a.d.snapshot())) as ReturnType<Defender['snapshot']>);
  assert.equal(b.d.banned('192.0.2.1'), true);
  b.clock.t += 15 * MIN;
  assert.equal(b.d.banned('192.0.2.1'), false);
  for (let i = 0; i < 5; i++) b.d.record('192.0.2.1', 'limit-refused');
  assert.equal(b.d.list()[0]?.bans, 2);
});

test('an address on allow is let in although a ban restored from before still lists it', () => {
  const a = make();
  for (let i = 0; i < 5; i++) a.d.record('192.0.2.1', 'limit-refused');
  const { d: b, clock } = make({ ...DEFAULT_DEFENDER, allow: ['192.0.2.0/24'] });
  clock.t = a.clock.t + MIN;
  b.restore(JSON.parse(JSON.stringify(a.d.snapshot())) as ReturnType<Defender['snapshot']>);
  assert.equal(b.banned('192.0.2.1'), false);
  assert.equal(b.list()[0]?.address, '192.0.2.1', 'still listed (ferry bans ls)');
  assert.equal(b.unban('192.0.2.1'), true, 'and removable (ferry bans rm)');
  assert.deepEqual(b.list(), []);
});

test('a new allow list (reload) lets a banned address in at once; taken off it, the ban holds again', () => {
  const { d } = make();
  for (let i = 0; i < 5; i++) d.record('192.0.2.1', 'limit-refused');
  assert.equal(d.banned('192.0.2.1'), true);
  d.setAllow(['192.0.2.0/24']);
  assert.equal(d.banned('192.0.2.1'), false);
  d.record('192.0.2.1', 'failed-login');
  d.setAllow([]);
  assert.equal(d.banned('192.0.2.1'), true);
  assert.throws(() => d.setAllow(['192.0.2.0/40']), /not a network/);
  // Once read as 192.0.2.0/0 and /8: every address, and a sixteen-million-address list.
  assert.throws(() => d.setAllow(['192.0.2.0/']), /"192\.0\.2\.0\/" is not a network/);
  assert.throws(() => d.setAllow(['192.0.2.0/0x8']), /not a network/);
  assert.equal(d.banned('192.0.2.1'), true, 'a bad list changes nothing');
});

test('memory stays bounded under many addresses', () => {
  const { d } = make({ ...DEFAULT_DEFENDER, maxTracked: 100 });
  for (let i = 0; i < 10_000; i++) d.record(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 'failed-login');
  for (let i = 0; i < 1_000; i++)
    for (let k = 0; k < 8; k++) d.record(`172.16.${i >> 8}.${i & 255}`, 'tls-failure');
  assert.ok(d.list().length <= 100);
});

test('apply: a ban from another node is taken as it is; its end ends the same ban here', () => {
  let now = 1_000_000;
  const changes: unknown[] = [];
  const d = new Defender(
    DEFAULT_DEFENDER,
    (c) => changes.push(c),
    () => now,
  );
  const ban = { address: '192.0.2.7', since: now, until: now + 60_000, bans: 1 };
  assert.equal(d.apply(ban)?.kind, 'ban');
  assert.equal(d.banned('192.0.2.7'), true);
  assert.equal(d.apply(ban), undefined, 'the same ban again changes nothing');
  now += 1000;
  assert.equal(d.apply({ ...ban, until: now })?.kind, 'unban');
  assert.equal(d.banned('192.0.2.7'), false);
  assert.deepEqual(changes, [], 'apply tells no one: its caller does');
});

test('IPv6: addresses of one /64 are scored and banned together, as the network; 128 bans each alone', () => {
  const { d, changes } = make();
  // A new address for each failure, as an attacker with a routed /64 picks them.
  for (let i = 1; i <= 15; i++) d.record(`2001:db8:1::${i.toString(16)}`, 'failed-login');
  assert.equal(d.banned('2001:db8:1::ffff'), true, 'an address never seen, in the banned network');
  assert.equal(d.banned('2001:db8:1:1::1'), false, 'the next /64');
  assert.deepEqual(
    d.list().map((b) => b.address),
    ['2001:db8:1::/64'],
  );
  assert.equal(changes[0]?.kind === 'ban' && changes[0].ban.address, '2001:db8:1::/64');
  assert.equal(d.unban('2001:db8:1::abc'), true, 'lifted by an address it covers');
  assert.equal(d.banned('2001:db8:1::1'), false);

  const single = make({ ...DEFAULT_DEFENDER, ipv6PrefixLength: 128 }).d;
  for (let i = 1; i <= 15; i++) single.record(`2001:db8:1::${i.toString(16)}`, 'failed-login');
  assert.deepEqual(single.list(), []);
  for (let i = 0; i < 15; i++) single.record('2001:db8:1::1', 'failed-login');
  assert.equal(single.banned('2001:db8:1::1'), true);
  assert.equal(single.banned('2001:db8:1::2'), false);
});

test('IPv6: an allowed address inside a banned network is let in', () => {
  const { d } = make({ ...DEFAULT_DEFENDER, allow: ['2001:db8:1::7'] });
  for (let i = 0; i < 15; i++) d.record('2001:db8:1::8', 'failed-login');
  assert.equal(d.banned('2001:db8:1::9'), true);
  assert.equal(d.banned('2001:db8:1::7'), false);
});

test('what is not an address (an unreadable peer: "") is never scored nor banned; only addresses and networks are ban keys', () => {
  const { d } = make();
  for (let i = 0; i < 20; i++) d.record('', 'limit-refused');
  assert.deepEqual(d.list(), []);
  assert.equal(d.banned(''), false);
  const now = 1_000_000;
  assert.equal(d.apply({ address: '', since: now, until: now + MIN, bans: 1 }), undefined);
  assert.deepEqual(d.list(), []);
  // An IPv4 network too: `ferry bans add 10.0.0.0/8`.
  for (const key of ['192.0.2.1', '2001:db8::1', '2001:db8:1::/64', '10.0.0.0/8'])
    assert.equal(isBanKey(key), true, key);
  for (const key of ['', 'host.example', '10.0.0.0/33', '2001:db8::/129', '2001:db8::/64/1'])
    assert.equal(isBanKey(key), false, key);
});

test('by default an unknown user costs what a wrong password does: when a ban comes tells no names', () => {
  const { d } = make();
  for (let i = 0; i < 14; i++) d.record('192.0.2.1', 'failed-login');
  for (let i = 0; i < 14; i++) d.record('192.0.2.2', 'unknown-user');
  assert.deepEqual([d.banned('192.0.2.1'), d.banned('192.0.2.2')], [false, false]);
  d.record('192.0.2.1', 'failed-login');
  d.record('192.0.2.2', 'unknown-user');
  assert.deepEqual([d.banned('192.0.2.1'), d.banned('192.0.2.2')], [true, true]);
});

test('NAT64/SIIT: an address of 64:ff9b::/96 (or a configured prefix) is scored, banned and keyed as its IPv4', () => {
  const { d } = make({ ...DEFAULT_DEFENDER, threshold: 2, nat64Prefixes: ['2001:db8:46::/96'] });
  assert.equal(d.key('64:ff9b::c633:6401'), '198.51.100.1');
  assert.equal(d.key('2001:db8:46::c633:6401'), '198.51.100.1');
  assert.equal(d.key('2001:db8:47::c633:6401'), '2001:db8:47::/64');
  d.record('64:ff9b::c633:6401', 'failed-login');
  d.record('2001:db8:46::198.51.100.1', 'failed-login');
  assert.deepEqual(
    d.list().map((b) => b.address),
    ['198.51.100.1'],
  );
  assert.equal(d.banned('64:ff9b::198.51.100.1'), true);
  assert.equal(d.banned('198.51.100.1'), true);
  // Another IPv4 client through the same translator (the same /64) is not banned with it.
  assert.equal(d.banned('64:ff9b::198.51.100.2'), false);
  // A network ban by IPv4 holds its clients through the translator; one by IPv6 still holds too.
  d.add('203.0.113.0/24', MIN);
  assert.equal(d.banned('64:ff9b::203.0.113.5'), true);
  d.add('64:ff9b::c000:200/120', MIN);
  assert.equal(d.banned('64:ff9b::192.0.2.5'), true);
  assert.equal(d.unban('64:ff9b::c633:6401'), true);
});

test('NAT64/SIIT: allow names the IPv4 client, or the translated address', () => {
  const { d } = make({ ...DEFAULT_DEFENDER, allow: ['198.51.100.9/32'] });
  assert.equal(d.allowed('64:ff9b::198.51.100.9'), true);
  assert.equal(d.allowed('64:ff9b::198.51.100.8'), false);
  assert.equal(d.key('64:ff9b::198.51.100.9'), '198.51.100.9');
});
