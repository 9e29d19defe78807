import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalVerb, parseCommand, redactCommand, type Command, type ParsedLine } from './command.js';

function command(line: string): Command {
  const p = parseCommand(line);
  assert.equal(p.kind, 'command', `${line}: ${JSON.stringify(p)}`);
  return (p as Extract<ParsedLine, { kind: 'command' }>).command;
}

function bad(line: string): Extract<ParsedLine, { kind: 'bad-argument' }> {
  const p = parseCommand(line);
  assert.equal(p.kind, 'bad-argument', `${line}: ${JSON.stringify(p)}`);
  return p as Extract<ParsedLine, { kind: 'bad-argument' }>;
}

describe('parseCommand', () => {
  test('verbs are case-insensitive; X-aliases become their verb; the argument text is kept', () => {
    assert.deepEqual(command('noop'), { verb: 'NOOP', arg: '' });
    assert.deepEqual(command('XPWD'), { verb: 'PWD', arg: '' });
    assert.deepEqual(command('xmkd a b'), { verb: 'MKD', arg: 'a b', path: 'a b' });
    assert.equal(canonicalVerb('xcup'), 'CDUP');
    assert.equal(canonicalVerb('ZZZZ'), undefined);
  });

  test('paths stay verbatim: spaces, quotes, a leading dash', () => {
    assert.deepEqual(command('RETR  two  spaces '), {
      verb: 'RETR',
      arg: ' two  spaces ',
      path: ' two  spaces ',
    });
    assert.deepEqual(command('STOR -x "q"'), { verb: 'STOR', arg: '-x "q"', path: '-x "q"' });
    assert.deepEqual(command('LIST -la'), { verb: 'LIST', arg: '-la', path: '-la' });
    assert.deepEqual(command('CWD'), { verb: 'CWD', arg: '', path: '/' });
  });

  test('a verb that needs a path gets 501 without one', () => {
    for (const verb of ['RETR', 'STOR', 'APPE', 'DELE', 'MKD', 'RMD', 'RNFR', 'RNTO', 'SIZE', 'MDTM']) {
      const b = bad(verb);
      assert.equal(b.code, 501);
      assert.match(b.reason, new RegExp(`^${verb} needs a path`));
    }
  });

  test('verbs without arguments refuse one (501); ACCT, ABOR, QUIT, STOU ignore theirs', () => {
    for (const line of ['PWD x', 'CDUP x', 'PASV 1', 'FEAT x', 'SYST x', 'NOOP x', 'REIN x', 'CCC x']) {
      assert.equal(bad(line).code, 501, line);
    }
    for (const line of ['ACCT x', 'ALLO 100 R 10', 'ABOR x', 'QUIT now', 'STOU x']) command(line);
  });

  test('REST, PBSZ: numbers', () => {
    assert.deepEqual(command('REST 123'), { verb: 'REST', arg: '123', offset: 123 });
    assert.equal(bad('REST abc').code, 501);
    assert.equal(bad('REST -1').code, 501);
    assert.equal(bad('REST').code, 501);
    assert.equal(bad('REST 1234567890123456').code, 501);
    assert.deepEqual(command('PBSZ 0'), { verb: 'PBSZ', arg: '0', size: 0 });
    assert.equal(bad('PBSZ x').code, 501);
  });

  test('TYPE: RFC 959 grammar; unknown types are 504, broken syntax 501', () => {
    assert.deepEqual(command('TYPE a'), { verb: 'TYPE', arg: 'a', type: 'A', format: undefined });
    assert.deepEqual(command('TYPE A N'), { verb: 'TYPE', arg: 'A N', type: 'A', format: 'N' });
    assert.deepEqual(command('TYPE I'), { verb: 'TYPE', arg: 'I', type: 'I' });
    assert.deepEqual(command('TYPE L 8'), { verb: 'TYPE', arg: 'L 8', type: 'L', byteSize: 8 });
    assert.equal(bad('TYPE X').code, 504);
    assert.equal(bad('TYPE').code, 501);
    assert.equal(bad('TYPE L').code, 501);
    assert.equal(bad('TYPE I 8').code, 501);
    assert.equal(bad('TYPE A Q').code, 501);
  });

  test('MODE, STRU, PROT, AUTH: known letters parse, others are 504', () => {
    assert.deepEqual(command('MODE s'), { verb: 'MODE', arg: 's', mode: 'S' });
    assert.deepEqual(command('MODE B'), { verb: 'MODE', arg: 'B', mode: 'B' });
    assert.equal(bad('MODE Q').code, 504);
    assert.equal(bad('MODE').code, 501);
    assert.deepEqual(command('STRU F'), { verb: 'STRU', arg: 'F', structure: 'F' });
    assert.equal(bad('STRU X').code, 504);
    assert.deepEqual(command('PROT p'), { verb: 'PROT', arg: 'p', level: 'P' });
    assert.deepEqual(command('PROT S'), { verb: 'PROT', arg: 'S', level: 'S' });
    assert.equal(bad('PROT Z').code, 504);
    assert.deepEqual(command('AUTH ssl'), { verb: 'AUTH', arg: 'ssl', mechanism: 'SSL' });
    assert.deepEqual(command('AUTH TLS-P'), { verb: 'AUTH', arg: 'TLS-P', mechanism: 'TLS-P' });
    assert.equal(bad('AUTH KERBEROS').code, 504);
    for (const line of ['AUTH', 'AUTH  ']) {
      const { code, reason } = bad(line);
      assert.deepEqual({ code, reason }, { code: 501, reason: 'AUTH needs a mechanism: TLS or SSL.' });
    }
    assert.equal(bad('AUTH KERBEROS').reason, 'AUTH KERBEROS not supported; use TLS or SSL.');
  });

  test('PORT, EPRT, EPSV: addresses parsed by protocol/address', () => {
    assert.deepEqual(command('PORT 127,0,0,1,4,1'), {
      verb: 'PORT',
      arg: '127,0,0,1,4,1',
      host: '127.0.0.1',
      port: 1025,
    });
    assert.equal(bad('PORT 1,2,3').code, 501);
    const eprt = command('EPRT |2|::1|5000|');
    assert.ok(eprt.verb === 'EPRT');
    assert.deepEqual(eprt.eprt, { kind: 'address', protocol: 2, host: '::1', port: 5000 });
    const other = command('EPRT |9|x|5000|');
    assert.ok(other.verb === 'EPRT' && other.eprt.kind === 'unsupported-protocol');
    assert.equal(bad('EPRT 1.2.3.4').code, 501);
    const all = command('EPSV all');
    assert.ok(all.verb === 'EPSV' && all.epsv.kind === 'all');
    assert.equal(bad('EPSV x').code, 501);
  });

  test('MFMT: a time-val and a path', () => {
    const c = command('MFMT 20200102030405 a file.txt');
    assert.ok(c.verb === 'MFMT');
    assert.equal(c.modified.toISOString(), '2020-01-02T03:04:05.000Z');
    assert.equal(c.path, 'a file.txt');
    assert.equal(bad('MFMT 2020 x').code, 501);
    assert.equal(bad('MFMT 20201340000000 x').code, 501);
    assert.equal(bad('MFMT 20200102030405').code, 501);
  });

  test("MDTM: a path reads the time; vsftpd's set-form (14 digits, a space, a path) sets it", () => {
    const read = command('MDTM a file.txt');
    assert.ok(read.verb === 'MDTM' && read.modified === undefined && read.path === 'a file.txt');
    const set = command('MDTM 20200101120000 a file.txt');
    assert.ok(set.verb === 'MDTM');
    assert.equal(set.modified?.toISOString(), '2020-01-01T12:00:00.000Z');
    assert.equal(set.path, 'a file.txt');
    assert.equal(set.whole, '20200101120000 a file.txt', 'the whole argument, for a file named so');
    const fraction = command('MDTM 20200101120000.250 x');
    assert.ok(
      fraction.verb === 'MDTM' && fraction.modified?.getTime() === Date.UTC(2020, 0, 1, 12, 0, 0, 250),
    );
    assert.equal(bad('MDTM 20201340000000 x').code, 501, 'the set-form validates the time as MFMT does');
    // Not the set-form: read as a path.
    for (const arg of ['20200101120000', '2020010112000 x', './20200101120000 x']) {
      const c = command(`MDTM ${arg}`);
      assert.ok(c.verb === 'MDTM' && c.modified === undefined && c.path === arg, arg);
    }
  });

  test('OPTS: UTF8 and MLST; anything else 501', () => {
    const utf8 = command('OPTS utf8 on');
    assert.ok(utf8.verb === 'OPTS' && utf8.option.name === 'UTF8' && utf8.option.on);
    const off = command('OPTS UTF-8 OFF');
    assert.ok(off.verb === 'OPTS' && off.option.name === 'UTF8' && !off.option.on);
    const mlst = command('OPTS MLST type;size;bogus;');
    assert.ok(mlst.verb === 'OPTS' && mlst.option.name === 'MLST');
    assert.deepEqual([...mlst.option.facts], ['type', 'size']);
    assert.equal(bad('OPTS FOO').code, 501);
    assert.equal(bad('OPTS').reason, 'OPTS needs an option: UTF8, MLST or HASH.');
  });

  test('SITE: HELP and CHMOD; unknown subcommands 500 (RFC 959 5.4); broken CHMOD 501', () => {
    const help = command('SITE help');
    assert.ok(help.verb === 'SITE' && help.site.name === 'HELP');
    const chmod = command('SITE CHMOD 0644 my file');
    assert.ok(chmod.verb === 'SITE');
    assert.deepEqual(chmod.site, { name: 'CHMOD', mode: 0o644, path: 'my file' });
    assert.equal(bad('SITE CHMOD xyz f').code, 501);
    assert.equal(bad('SITE CHMOD 644').code, 501);
    for (const line of ['SITE EXEC ls', 'SITE UMASK 022', 'SITE IDLE 600', 'SITE utime 1 f']) {
      assert.equal(bad(line).code, 500, line);
    }
    assert.equal(
      bad('SITE UMASK 022').reason,
      'SITE UMASK not understood (SITE HELP lists the subcommands).',
    );
    assert.equal(bad('SITE').code, 501);
  });

  test('SITE: z/OS data-set attributes are DATASET (202 later); FILETYPE other than SEQ, or a stranger among them, 500', () => {
    for (const line of [
      'SITE LRECL=80 RECFM=FB',
      'SITE lrecl=80  recfm=fb blksize=3120',
      'SITE FILETYPE=SEQ',
      'SITE filetype=seq',
      'SITE TRACKS PRIMARY=10 SECONDARY=5',
      'SITE CYLINDERS UNIT=SYSDA VOLUME=VOL001 DIRECTORY=5 BLOCKSIZE=6160',
    ]) {
      const c = command(line);
      assert.ok(c.verb === 'SITE' && c.site.name === 'DATASET', line);
    }
    const spaced = command('SITE lrecl=80  recfm=fb');
    assert.ok(spaced.verb === 'SITE');
    assert.deepEqual(spaced.site, { name: 'DATASET', attributes: 'lrecl=80 recfm=fb' });
    for (const line of [
      'SITE FILETYPE=JES',
      'SITE FILETYPE',
      'SITE FILETYPE=SQL',
      'SITE LRECL=80 UMASK=022',
      'SITE =80',
    ]) {
      assert.equal(bad(line).code, 500, line);
    }
  });

  test('USER and HOST need a value; HELP topic is upper-cased', () => {
    assert.equal(bad('USER').code, 501);
    assert.deepEqual(command('USER alice'), { verb: 'USER', arg: 'alice', username: 'alice' });
    assert.equal(bad('HOST ').code, 501);
    assert.deepEqual(command('HELP retr'), { verb: 'HELP', arg: 'retr', topic: 'RETR' });
  });

  test('unknown verbs (letters and digits, as XMD5 and XSHA256) and broken lines', () => {
    assert.deepEqual(parseCommand('FOOB x'), { kind: 'unknown', verb: 'FOOB' });
    for (const verb of ['XMD5', 'XSHA1', 'XSHA256', 'xcrc', 'R3TR'])
      assert.deepEqual(parseCommand(`${verb} f`), { kind: 'unknown', verb: verb.toUpperCase() });
    for (const line of ['', 'X', '3RTR x', 'AB x', 'RE-TR x', 'FOO! x', 'MUCHTOOLONG x', '\u00ffXYZ'])
      assert.equal(parseCommand(line).kind, 'invalid', JSON.stringify(line));
  });

  test('TYPE L8 (no space) as TYPE L 8; ALLO takes a count (501 otherwise); CLNT any name; SMNT known', () => {
    assert.deepEqual(command('TYPE L8'), { verb: 'TYPE', arg: 'L8', type: 'L', byteSize: 8 });
    assert.deepEqual(command('TYPE l 8'), { verb: 'TYPE', arg: 'l 8', type: 'L', byteSize: 8 });
    assert.equal(bad('TYPE L').code, 501);
    for (const arg of ['1024', '1024 R 512', '5 r 1']) assert.equal(command(`ALLO ${arg}`).verb, 'ALLO');
    assert.equal(bad('ALLO').code, 501);
    for (const arg of ['', 'abc', '-1', '10 R', '1.5']) assert.equal(bad(`ALLO ${arg}`).code, 501, arg);
    assert.deepEqual(command('CLNT FileZilla 3.66'), {
      verb: 'CLNT',
      arg: 'FileZilla 3.66',
      client: 'FileZilla 3.66',
    });
    assert.equal(command('SMNT /mnt').verb, 'SMNT');
  });
});

describe('redactCommand', () => {
  test('masks PASS and ACCT', () => {
    assert.equal(redactCommand('PASS', 'secret'), 'PASS ****');
    assert.equal(redactCommand('ACCT', 'x'), 'ACCT ****');
    assert.equal(redactCommand('RETR', 'a'), 'RETR a');
    assert.equal(redactCommand('NOOP', ''), 'NOOP');
  });
});
