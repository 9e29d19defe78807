/** Pure pieces of the client: URLs, credentials, fingerprints, known hosts, error kinds, mirror rule. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { EXIT, exitCodeFor } from '../../src/cli/client-exit-codes.js';
import { parsePwdReply } from '../../src/client/client.js';
import { CertificateError, ConnectionError, LoginError, failureKind } from '../../src/client/errors.js';
import { needsTransfer } from '../../src/client/mirror.js';
import { CA_VERIFIED, KnownHostsFile, normalizeFingerprint, serverKey } from '../../src/client/trust.js';
import {
  joinRemote,
  netrcLookup,
  parseFtpUrl,
  parseNetrc,
  redactIn,
  redactUrl,
  remoteBasename,
  remoteDirname,
  resolveCredentials,
} from '../../src/client/url.js';
import { FerryError, ReplyError } from '../../src/errors.js';

describe('parseFtpUrl', () => {
  it('maps schemes to security and default ports', () => {
    assert.deepEqual(
      ['ftps://h/', 'ftpes://h/', 'ftp://h/'].map((u) => {
        const p = parseFtpUrl(u);
        return [p.security, p.port];
      }),
      [
        ['implicit', 990],
        ['explicit', 21],
        ['none', 21],
      ],
    );
  });

  it('decodes user, password, host, port and path (relative unless %2F)', () => {
    const u = parseFtpUrl('FTPES://us%40er:p%3Ass@Example.com:2121/dir/a%20b.txt');
    assert.equal(u.user, 'us@er');
    assert.equal(u.password, 'p:ss');
    assert.equal(u.host, 'Example.com');
    assert.equal(u.port, 2121);
    assert.equal(u.path, 'dir/a b.txt');
    assert.equal(parseFtpUrl('ftps://h/%2Fetc/x').path, '/etc/x');
    assert.equal(parseFtpUrl('ftps://h').path, '');
    const d = parseFtpUrl('ftps://h/dir/');
    assert.equal(d.path, 'dir');
    assert.equal(d.trailingSlash, true);
    const v6 = parseFtpUrl('ftps://[::1]:9990/x');
    assert.equal(v6.host, '::1');
    assert.equal(v6.port, 9990);
    // A link-local address's zone: RFC 6874 writes its '%' as %25 (curl's form); a bare '%' is taken too.
    assert.equal(parseFtpUrl('ftpes://[fe80::1%25eth0]:2121/x').host, 'fe80::1%eth0');
    assert.equal(parseFtpUrl('ftpes://[fe80::1%eth0]/x').host, 'fe80::1%eth0');
  });

  it('refuses malformed URLs without echoing the password', () => {
    for (const bad of ['http://h/', 'ftps://', 'ftps://h:70000/', 'ftps://u:pw@h/%0D%0ADELE x']) {
      assert.throws(
        () => parseFtpUrl(bad),
        (err: unknown) =>
          err instanceof FerryError && err.code === 'ERR_USAGE' && !err.message.includes(':pw@'),
        bad,
      );
    }
    assert.equal(redactUrl('ftps://bob:secret@h/x'), 'ftps://bob:****@h/x');
  });

  it('redacts the password of malformed URLs too: a / in it, one slash, another scheme, none', () => {
    for (const [text, shown] of [
      ['ftps://bob:Sekr/tPW@localhost:62990/', 'ftps://bob:****@localhost:62990/'],
      ['ftps:/bob:TOPSECRET@localhost:62990/', 'ftps:/bob:****@localhost:62990/'],
      ['ftps:bob:TOPSECRET@h/f', 'ftps:****@h/f'],
      ['sftp://bob:pa/ss@host/', 'sftp://bob:****@host/'],
      ['ftps://bob:p@ss/w@rd@host/x', 'ftps://bob:****@host/x'],
      ['bob:TOPSECRET@h/x', 'bob:****@h/x'],
      // No password: nothing to hide; an @ in the path of a URL with a port masks more, never less.
      ['ftps://bob@h:2121/x', 'ftps://bob@h:2121/x'],
      ['ftps://h:2121/a@b', 'ftps://h:****@b'],
    ]) {
      assert.equal(redactUrl(text ?? ''), shown, text);
    }
    assert.equal(
      redactIn("ENOENT: no such file or directory, open 'ftps:/bob:TOP/SECRET@h/x/f'", [
        'get',
        'ftps://bob:TOP/SECRET@h/x',
      ]),
      "ENOENT: no such file or directory, open 'ftps:/bob:****@h/x/f'",
    );
    assert.throws(
      () => parseFtpUrl('ftps://bob:Sekr/tPW@localhost:62990/'),
      (err: unknown) =>
        err instanceof FerryError && !err.message.includes('Sekr') && !err.message.includes('tPW'),
    );
  });

  it('an encoded *, ?, [, ], \\ in the last segment is data: quoted in the pattern', () => {
    const star = parseFtpUrl('ftps://h/d/star%2A.txt');
    assert.equal(star.path, 'd/star*.txt');
    assert.equal(star.pattern, 'd/star\\*.txt');
    assert.equal(parseFtpUrl('ftps://h/x%5B1%5D%3F.gz').pattern, 'x\\[1\\]\\?.gz');
    assert.equal(parseFtpUrl('ftps://h/a%5C*').pattern, 'a\\\\*');
    // The URL's own wildcards and backslashes are the pattern's; a \\ quotes an encoded character too.
    assert.equal(parseFtpUrl('ftps://h/x\\[1\\].gz').pattern, 'x\\[1\\].gz');
    assert.equal(parseFtpUrl('ftps://h/a\\%2A*').pattern, 'a\\**');
    // Only the last segment is a pattern: a directory's name is as decoded.
    assert.equal(parseFtpUrl('ftps://h/%2A/b%2A').pattern, '*/b\\*');
    assert.equal(parseFtpUrl('ftps://h/a%2A%2Fb%2A').pattern, 'a*/b\\*');
    assert.equal(parseFtpUrl('ftps://h/d%2A/').pattern, 'd*');
  });

  it('RFC 1738 typecodes: ;type=i dropped, ;type=d a directory listed by name, ;type=a refused', () => {
    const i = parseFtpUrl('ftps://h/dir/f.txt;type=i');
    assert.deepEqual([i.path, i.pattern, i.trailingSlash], ['dir/f.txt', 'dir/f.txt', false]);
    assert.equal(parseFtpUrl('ftps://h/*.gz;TYPE=I').pattern, '*.gz');
    const d = parseFtpUrl('ftps://h/dir;type=d');
    assert.deepEqual([d.path, d.trailingSlash, d.namesOnly], ['dir', true, true]);
    assert.equal(parseFtpUrl('ftps://h/;type=D').namesOnly, true);
    assert.equal(i.namesOnly, false);
    assert.equal(parseFtpUrl('ftps://h/dir/').namesOnly, false);
    assert.deepEqual(
      [parseFtpUrl('ftps://h/;type=d').path, parseFtpUrl('ftps://h/;type=d').trailingSlash],
      ['', false],
    );
    assert.throws(
      () => parseFtpUrl('ftps://h/f.txt;type=a'),
      (err: unknown) =>
        err instanceof FerryError && err.code === 'ERR_USAGE' && /ASCII mode/.test(err.message),
    );
    // Encoded, or not at the end, it is part of the name.
    assert.equal(parseFtpUrl('ftps://h/f%3Btype=a').path, 'f;type=a');
    assert.equal(parseFtpUrl('ftps://h/f;type=x').path, 'f;type=x');
  });

  it('remote path helpers', () => {
    assert.equal(joinRemote('', 'a'), 'a');
    assert.equal(joinRemote('/', 'a'), '/a');
    assert.equal(joinRemote('d', 'a'), 'd/a');
    assert.equal(remoteBasename('a/b c/'), 'b c');
    assert.equal(remoteDirname('a/b'), 'a');
    assert.equal(remoteDirname('/a'), '/');
    assert.equal(remoteDirname('a'), '');
  });
});

describe('credentials', () => {
  const netrc =
    'machine files.example login bob password "s3 cret"\n# comment\ndefault login anon password x@y\n';

  it('parses .netrc with quotes and a default entry', () => {
    const entries = parseNetrc(netrc);
    assert.deepEqual(netrcLookup(entries, 'FILES.example'), {
      machine: 'files.example',
      login: 'bob',
      password: 's3 cret',
    });
    assert.equal(netrcLookup(entries, 'other')?.login, 'anon');
  });

  it('URL, then FERRY_PASSWORD, then .netrc, else anonymous', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-netrc-'));
    try {
      const file = path.join(dir, '.netrc');
      await writeFile(file, netrc);
      const env = { HOME: dir };
      assert.equal(
        (await resolveCredentials({ host: 'h', user: 'u', password: 'p' }, { env })).source,
        'url',
      );
      const fromEnv = await resolveCredentials(
        { host: 'h', user: 'u', password: undefined },
        { env: { ...env, FERRY_PASSWORD: 'pw' } },
      );
      assert.deepEqual(fromEnv, { user: 'u', password: 'pw', source: 'env' });
      const fromNetrc = await resolveCredentials(
        { host: 'files.example', user: undefined, password: undefined },
        { env },
      );
      assert.deepEqual(fromNetrc, { user: 'bob', password: 's3 cret', source: 'netrc' });
      await assert.rejects(
        resolveCredentials({ host: 'h', user: 'carol', password: undefined }, { env, netrcFile: false }),
        (e: unknown) => e instanceof FerryError && e.code === 'ERR_AUTH',
      );
      // With a client certificate, the server may log carol in by it: no password needed.
      assert.deepEqual(
        await resolveCredentials(
          { host: 'h', user: 'carol', password: undefined },
          { env, netrcFile: false, clientCertificate: true },
        ),
        { user: 'carol', password: '', source: 'none' },
      );
      assert.equal(
        (
          await resolveCredentials(
            { host: 'h', user: undefined, password: undefined },
            { env, netrcFile: false },
          )
        ).user,
        'anonymous',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('trust', () => {
  const hex = 'ab'.repeat(32);
  const canonical = `sha256:${'AB:'.repeat(31)}AB`;

  it('normalizes fingerprints in any common spelling', () => {
    assert.equal(normalizeFingerprint(hex), canonical);
    assert.equal(normalizeFingerprint(`SHA256:${'ab:'.repeat(31)}ab`), canonical);
    assert.throws(() => normalizeFingerprint('sha256:abc'), FerryError);
  });

  it('known-hosts file: remember, look up, line numbers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-kh-'));
    try {
      const store = new KnownHostsFile(path.join(dir, 'sub', 'known_hosts'));
      assert.equal(await store.lookup('h:21'), undefined);
      await store.remember(serverKey('H', 21), canonical);
      await store.remember(serverKey('::1', 990), canonical);
      assert.equal(await store.lookup('h:21'), canonical);
      assert.equal(await store.lookup('[::1]:990'), canonical);
      assert.equal(await store.lineOf('[::1]:990'), 3);
      assert.match(await readFile(store.location, 'utf8'), /^# Ferry known FTPS servers/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('known-hosts file: CA-verified entries beside older fingerprint lines, one line per server', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-kh-'));
    try {
      const file = path.join(dir, 'known_hosts');
      // A file as earlier versions wrote it: its entries still count.
      await writeFile(file, `# Ferry known FTPS servers: host:port sha256-fingerprint\nold:21 ${hex}\n`);
      const store = new KnownHostsFile(file);
      assert.equal(await store.lookup('old:21'), canonical);
      // Parallel connections to one new server: one line, the first entry.
      await Promise.all([store.remember('new:990', CA_VERIFIED), store.remember('new:990', canonical)]);
      await store.remember('old:21', CA_VERIFIED);
      assert.equal(await store.lookup('new:990'), CA_VERIFIED);
      assert.equal(await store.lookup('old:21'), canonical);
      assert.equal(
        await readFile(file, 'utf8'),
        `# Ferry known FTPS servers: host:port sha256-fingerprint\nold:21 ${hex}\nnew:990 ca-verified\n`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('error kinds and exit codes', () => {
  it('maps every kind to its documented exit code', () => {
    const cases: [unknown, number][] = [
      [new FerryError('ERR_USAGE', 'x'), EXIT.usage],
      [new ConnectionError('x'), EXIT.connection],
      [new ConnectionError('x', { code: 'ERR_CONNECT', systemCode: 'ECONNREFUSED' }), EXIT.connection],
      [new FerryError('ERR_TIMEOUT', 'x'), EXIT.connection],
      [new ReplyError(421, 'bye'), EXIT.connection],
      [new CertificateError('untrusted', 'h:21', '', 'x'), EXIT.tls],
      [new LoginError(530, 'no'), EXIT.auth],
      [new ReplyError(550, 'nope', 'RETR x'), EXIT.remote],
      [Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }), EXIT.local],
      [new ReplyError(426, 'aborted'), EXIT.transfer],
      [new FerryError('ERR_DATA_CONNECTION', 'x'), EXIT.transfer],
      [new FerryError('ERR_ABORTED', 'x'), EXIT.interrupted],
      [new FerryError('ERR_PROTOCOL', 'x'), EXIT.other],
    ];
    for (const [err, code] of cases)
      assert.equal(exitCodeFor(err), code, `${String(err)} (${failureKind(err)})`);
  });
});

describe('mirror rule', () => {
  const f = (size: number | null, mtime: number, precision = 1000) => ({
    type: 'file' as const,
    size,
    mtime,
    precision,
  });
  it('transfers when missing, resized, or older or newer beyond the listing precision', () => {
    assert.equal(needsTransfer(f(1, 0), undefined), true);
    assert.equal(needsTransfer(f(1, 0), f(2, 0)), true);
    assert.equal(needsTransfer(f(1, 100_000), f(1, 0)), true);
    assert.equal(needsTransfer(f(1, 50_000), f(1, 0, 60_000)), false, 'within a LIST minute');
    assert.equal(needsTransfer(f(1, 0), f(1, 50_000, 60_000)), false, 'within a LIST minute, newer');
    assert.equal(needsTransfer(f(1, 0), f(1, 100_000)), true, 'destination changed later');
    assert.equal(needsTransfer(f(1, 0), f(1, 500)), false, 'within a second');
    // A size the server did not report (MLSD without the size fact) decides nothing.
    assert.equal(needsTransfer(f(null, 0), f(5, 0)), false, 'size unknown, same time');
    assert.equal(needsTransfer(f(5, 0), f(null, 100_000)), true, 'size unknown, other time');
    assert.equal(needsTransfer(f(null, 0, Infinity), f(5, 0)), true, 'neither known: sent');
  });
});

describe('parsePwdReply', () => {
  it('reads the quoted path with doubled quotes', () => {
    assert.equal(parsePwdReply({ code: 257, lines: ['"/a ""b"" c" is the current directory'] }), '/a "b" c');
    assert.equal(parsePwdReply({ code: 257, lines: ['no quotes'] }), undefined);
  });
});
