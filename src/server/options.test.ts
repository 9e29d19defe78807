import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserTable } from '../auth/users.js';
import { MemoryStorage } from '../storage/memory.js';
import { resolveOptions, type ServerOptions } from './options.js';

const base: ServerOptions = {
  authenticator: new UserTable([]),
  storageFor: () => new MemoryStorage(),
};

test('defaults are secure: TLS 1.2+, session reuse required, no clear data, no CCC, no plain login', () => {
  const o = resolveOptions(base);
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.equal(o.requireSessionReuse, true);
  assert.equal(o.allowClearData, false);
  assert.equal(o.allowCcc, false);
  assert.equal(o.allowPlainControl, false);
  assert.ok(o.explicit && o.implicit, 'both listeners on');
});

test('a listener left out is off when the other is given: an app serving on 127.0.0.1 opens nothing else', () => {
  const local = { host: '127.0.0.1', port: 0 };
  assert.deepEqual(
    [
      resolveOptions({ ...base, explicit: local }).implicit,
      resolveOptions({ ...base, implicit: local }).explicit,
    ],
    [false, false],
  );
  const o = resolveOptions({ ...base, explicit: local });
  assert.deepEqual(o.explicit, local);
  // Turning one off alone keeps the other at its default (as before listeners could be left out).
  const onlyExplicit = resolveOptions({ ...base, implicit: false });
  assert.equal(onlyExplicit.implicit, false);
  assert.equal(typeof onlyExplicit.explicit === 'object' && onlyExplicit.explicit.host, '::');
  const onlyImplicit = resolveOptions({ ...base, explicit: false });
  assert.equal(typeof onlyImplicit.implicit === 'object' && onlyImplicit.implicit.host, '::');
});

test('passive.address is an IP address or a host name (looked up by the server), nothing else', () => {
  assert.throws(() => resolveOptions({ ...base, passive: { address: 'not an ip' } }), {
    message: /passive\.address: expected an IP address or a host name/,
  });
  assert.ok(resolveOptions({ ...base, passive: { address: '203.0.113.5' } }));
  const named = resolveOptions({
    ...base,
    passive: { address: ['ftp.example.net', { network: '10.0.0.0/8', address: 'lan.example' }] },
  });
  assert.deepEqual(named.passive.names, ['ftp.example.net', 'lan.example']);
});

test('an IPv6 passive address is refused at start, naming the key: PASV carries IPv4 only', () => {
  // Accepted, it made every IPv4 PASV answer 425 "use EPSV", blaming the client.
  assert.throws(() => resolveOptions({ ...base, passive: { address: '2001:db8::5' } }), {
    message: /options\.passive\.address: .*IPv4/,
  });
  assert.throws(
    () =>
      resolveOptions({ ...base, passive: { address: [{ network: '127.0.0.0/8', address: '2001:db8::5' }] } }),
    { message: /options\.passive\.address\.0\.address: .*IPv4/ },
  );
  const mapped = resolveOptions({ ...base, passive: { address: '::ffff:203.0.113.5' } });
  assert.ok(mapped.passive.addressFor('198.51.100.1'), 'an IPv4-mapped address is IPv4');
});

test('a bad option is refused at construction, naming the key and the fix', () => {
  assert.throws(() => resolveOptions({ ...base, passive: { portMin: 50100, portMax: 50000 } }), {
    code: 'ERR_INVALID_OPTION',
    message: /options\.passive: .*portMin <= portMax/,
  });
  assert.throws(() => resolveOptions({ ...base, explicit: { host: '::', port: 70000 } }), {
    message: /options\.explicit\.port/,
  });
  assert.throws(() => resolveOptions({ ...base, explicit: false, implicit: false }), {
    message: /at least one listener/,
  });
  assert.throws(
    () => resolveOptions({ ...base, authenticator: undefined as unknown as ServerOptions['authenticator'] }),
    {
      message: /options\.authenticator/,
    },
  );
});

test('proxyProtocol: off by default; trusted networks validated; required by default', () => {
  assert.equal(resolveOptions(base).proxyProtocol, undefined);
  const o = resolveOptions({ ...base, proxyProtocol: { trusted: ['10.0.1.10/32', 'fd00::/8'] } });
  assert.deepEqual(o.proxyProtocol, {
    trusted: ['10.0.1.10/32', 'fd00::/8'],
    required: true,
    headerTimeoutMs: 5_000,
  });
  assert.throws(() => resolveOptions({ ...base, proxyProtocol: { trusted: ['10.0.0.0/33'] } }), {
    message: /options\.proxyProtocol\.trusted\.0: .*not a network/,
  });
  assert.throws(() => resolveOptions({ ...base, proxyProtocol: { trusted: [] } }), {
    message: /options\.proxyProtocol\.trusted/,
  });
  // Read as 10.0.0.1/0 once: every peer could send a header and pick its address.
  assert.throws(() => resolveOptions({ ...base, proxyProtocol: { trusted: ['10.0.0.1/'] } }), {
    message: /options\.proxyProtocol\.trusted\.0: "10\.0\.0\.1\/" is not a network/,
  });
});

test('passive.address: one address, or rules per client network with one default', () => {
  assert.equal(resolveOptions(base).passive.addressFor('192.0.2.1'), undefined);
  assert.equal(
    resolveOptions({ ...base, passive: { address: '203.0.113.7' } }).passive.addressFor('10.1.1.1'),
    '203.0.113.7',
  );
  const rules = resolveOptions({
    ...base,
    passive: {
      address: [
        { network: '10.0.0.0/8', address: '10.0.0.5' },
        { network: '192.168.0.0/16', address: '192.168.1.6' },
        '203.0.113.10',
      ],
    },
  }).passive.addressFor;
  assert.equal(rules('10.9.8.7'), '10.0.0.5');
  assert.equal(rules('::ffff:10.9.8.7'), '10.0.0.5', 'IPv4-mapped clients match IPv4 networks');
  assert.equal(rules('192.168.3.4'), '192.168.1.6');
  assert.equal(rules('198.51.100.1'), '203.0.113.10');
  const noDefault = resolveOptions({
    ...base,
    passive: { address: [{ network: '10.0.0.0/8', address: '10.0.0.5' }] },
  });
  assert.equal(noDefault.passive.addressFor('198.51.100.1'), undefined, 'the address the client arrived on');
  assert.throws(() => resolveOptions({ ...base, passive: { address: ['203.0.113.1', '203.0.113.2'] } }), {
    message: /options\.passive\.address: .*at most one default/,
  });
  assert.throws(
    () =>
      resolveOptions({ ...base, passive: { address: [{ network: '10.0.0.0/8', address: 'lan_example' }] } }),
    { message: /options\.passive\.address\.0\.address: expected an IP address or a host name/ },
  );
});

test('an option an embedder misspells or mistypes is refused, naming it: nothing silently falls back to a default', () => {
  const bad = (o: Record<string, unknown>): Partial<ServerOptions> => o as Partial<ServerOptions>;
  assert.throws(() => resolveOptions({ ...base, ...bad({ implicitt: { host: '::', port: 990 } }) }), {
    code: 'ERR_INVALID_OPTION',
    key: 'implicitt',
    message: /options\.implicitt: Unrecognized key/,
  });
  assert.throws(() => resolveOptions({ ...base, tls: { minVersoin: 'TLSv1.3' } as ServerOptions['tls'] }), {
    key: 'tls.minVersoin',
    message: /options\.tls\.minVersoin: Unrecognized key/,
  });
  for (const key of ['passive', 'timeouts', 'limits'])
    assert.throws(() => resolveOptions({ ...base, [key]: { typo: 1 } }), {
      message: new RegExp(`options\\.${key}\\.typo: Unrecognized key`),
    });
  assert.throws(
    () => resolveOptions({ ...base, explicit: bad({ host: '::', port: '21' }) as ServerOptions['explicit'] }),
    {
      message: /options\.explicit\.port: .*number/,
    },
  );
  assert.throws(() => resolveOptions({ ...base, logger: {} as ServerOptions['logger'] }), {
    message: /options\.logger: a Logger/,
  });
});

test('a misspelt option names the key it is likely a misspelling of, at any depth', () => {
  const bad = (o: Record<string, unknown>): Partial<ServerOptions> => o as Partial<ServerOptions>;
  assert.throws(() => resolveOptions({ ...base, ...bad({ implicitt: false }) }), {
    key: 'implicitt',
    message: /options\.implicitt: Unrecognized key: "implicitt" \(did you mean implicit\?\)$/,
  });
  assert.throws(() => resolveOptions({ ...base, tls: { minVersoin: 'TLSv1.3' } as ServerOptions['tls'] }), {
    message: /options\.tls\.minVersoin: .*\(did you mean minVersion\?\)$/,
  });
  // Inside a union (a listener is `false` or an object) and an array.
  assert.throws(() => resolveOptions({ ...base, ...bad({ explicit: { host: '::', prot: 21 } }) }), {
    message: /options\.explicit\.prot: .*\(did you mean port\?\)$/,
  });
  const certificates = [{ certFile: 'a', keyFile: 'b', keyFiel: 'c' }];
  assert.throws(() => resolveOptions({ ...base, tls: bad({ certificates }) as ServerOptions['tls'] }), {
    message: /options\.tls\.certificates\.0\.keyFiel: .*\(did you mean keyFile\?\)$/,
  });
  // Nothing near: no guess.
  assert.throws(() => resolveOptions({ ...base, ...bad({ zzzzzz: 1 }) }), {
    message: /options\.zzzzzz: Unrecognized key: "zzzzzz"$/,
  });
});

test('a timeout longer than a Node.js timer can wait is refused, naming it (it would fire after 1 ms)', () => {
  const timeouts = [
    'idleMs',
    'dataConnectMs',
    'handshakeMs',
    'dataIdleMs',
    'closeGraceMs',
    'stalledOutputMs',
    'loginMs',
    'commandMs',
  ] as const;
  for (const key of timeouts) {
    assert.throws(() => resolveOptions({ ...base, timeouts: { [key]: 2 ** 31 } }), {
      code: 'ERR_INVALID_OPTION',
      key: `timeouts.${key}`,
      message: new RegExp(`options\\.timeouts\\.${key}: at most 2147483647 \\(about 24\\.8 days`),
    });
    assert.equal(resolveOptions({ ...base, timeouts: { [key]: 2 ** 31 - 1 } }).timeouts[key], 2 ** 31 - 1);
  }
  assert.throws(() => resolveOptions({ ...base, timeouts: { idleMs: 30 * 86_400_000 } }), {
    key: 'timeouts.idleMs',
  });
  assert.throws(
    () => resolveOptions({ ...base, proxyProtocol: { trusted: ['10.0.0.0/8'], headerTimeoutMs: 2 ** 31 } }),
    {
      key: 'proxyProtocol.headerTimeoutMs',
    },
  );
  // The kernel's longest keepalive idle time; past it Linux keeps its default (2 hours) silently.
  assert.equal(
    resolveOptions({ ...base, timeouts: { keepaliveMs: 32_767_000 } }).timeouts.keepaliveMs,
    32_767_000,
  );
  assert.throws(() => resolveOptions({ ...base, timeouts: { keepaliveMs: 32_768_000 } }), {
    key: 'timeouts.keepaliveMs',
    message: /at most 32767000 \(32767 s/,
  });
});

test('defender.ipv6PrefixLength is 32 to 128: a shorter prefix groups unrelated IPv6 customers (0: all of them)', () => {
  for (const bits of [0, 31, 129, 64.5])
    assert.throws(() => resolveOptions({ ...base, defender: { ipv6PrefixLength: bits } }), {
      code: 'ERR_INVALID_OPTION',
      message: /options\.defender\.ipv6PrefixLength/,
    });
  assert.equal(resolveOptions({ ...base, defender: { ipv6PrefixLength: 32 } }).defender.ipv6PrefixLength, 32);
  assert.equal(
    resolveOptions({ ...base, defender: { ipv6PrefixLength: 128 } }).defender.ipv6PrefixLength,
    128,
  );
});
